# Warning and sanitizer flags for the project's own executables (never forced on consumers).
add_library(xrestore_project_options INTERFACE)
target_compile_options(xrestore_project_options INTERFACE
    "$<$<COMPILE_LANGUAGE:CXX>:-Wall;-Wextra;-Wpedantic>"
    # nvcc: the host compiler's warnings on the host code, nvcc's own on the device code
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
if(XRESTORE_WARNINGS_AS_ERRORS)
    target_compile_options(xrestore_project_options INTERFACE
        $<$<COMPILE_LANGUAGE:CXX>:-Werror>
        $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings>)
endif()
if(XRESTORE_SANITIZE)
    # AddressSanitizer + UBSan's arithmetic and control-flow checks (signed overflow, shifts,
    # division by zero, bounds of arrays of known size, bool/enum loads, unreachable, missing
    # return, VLA bounds, builtins). Left out: UBSan's per-pointer checks (null, alignment,
    # object-size, pointer-overflow, vptr). They instrument every dereference of the template
    # code and doubled compile time (test_train_unet.cpp at -O1: 70 s with them, 41 s without,
    # 39 s with ASan alone), and ASan already stops null and out-of-object accesses; the file
    # readers load unaligned data with memcpy, and the code has no polymorphic downcasts.
    set(xrestore_ubsan_off "alignment,null,object-size,pointer-overflow,vptr")
    target_compile_options(xrestore_project_options INTERFACE
        "$<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined;-fno-sanitize=${xrestore_ubsan_off};-fno-omit-frame-pointer;-fno-sanitize-recover=undefined>")
    target_link_options(xrestore_project_options INTERFACE -fsanitize=address,undefined
        -fno-sanitize=${xrestore_ubsan_off})
endif()
if(XRESTORE_NATIVE)
    target_compile_options(xrestore_project_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()
