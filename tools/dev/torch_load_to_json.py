#!/usr/bin/python3
"""torch.load(PTH, weights_only=True) and print the state_dict as JSON, for tests/test_pth_writer.cpp.

Usage: /usr/bin/python3 tools/dev/torch_load_to_json.py PTH > OUT.json
Prints {"type": the loaded object's class, "tensors": [[name, dtype, shape, values], ...]} in
the file's order, float32 values as their bit patterns (int32), integers as they are.
"""

import json
import sys

import torch


def main():
    sd = torch.load(sys.argv[1], weights_only=True)
    tensors = []
    for name, t in sd.items():
        flat = t.reshape(-1)
        # float32 as their bits (int32), so NaN, infinities and -0 compare exactly
        values = (flat.view(torch.int32) if t.dtype == torch.float32 else flat).tolist()
        tensors.append([name, str(t.dtype), list(t.shape), values])
    json.dump({"type": type(sd).__name__, "tensors": tensors}, sys.stdout)


if __name__ == "__main__":
    main()
