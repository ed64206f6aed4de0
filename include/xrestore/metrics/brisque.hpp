#pragma once
/// @file brisque.hpp
/// BRISQUE, the blind/referenceless image spatial quality evaluator (Mittal, Moorthy & Bovik,
/// IEEE TIP 2012), computed exactly as OpenCV 4.6's cv::quality::QualityBRISQUE does, with its
/// LIVE model (data/iqa/brisque_model_live.yml and brisque_range_live.yml, OpenCV's files). No
/// reference image: lower is better, about 0 for pristine photos, up to 100 for heavy damage.
///
/// @code
/// const auto model = xrestore::brisque_model::load_default();   // or load(model, range)
/// double q = xrestore::brisque(x, model);                         // x: 1 or 3 x H x W in [0,1]
/// auto f = xrestore::brisque_features(x);                         // the 36 features
/// @endcode
///
/// Definition (OpenCV's arithmetic, float32 unless said otherwise):
///   1. grey: the image is rounded to 8 bits, u = clamp(round(255 x), 0, 255) (OpenCV's input
///      is an 8-bit image); RGB becomes cvtColor(BGR2GRAY)'s fixed point
///      (9798 R + 19235 G + 3735 B + 2^14) >> 15; then I = float(u) * float(1/255);
///   2. two scales: I, and I resized to floor(W/2) x floor(H/2) by cv::resize INTER_CUBIC
///      (A = -0.75, taps clamped at the border, each product and sum rounded in OpenCV's order);
///   3. MSCN at each scale: mu = G * I, s = sqrt(G * (I I) - mu mu) + 1/255 (NaN where the
///      difference rounds below 0, as in OpenCV), m = (I - mu) / s, with G the 7 x 7 Gaussian of
///      sigma 7/6 (getGaussianKernel, float), BORDER_REPLICATE, summed with OpenCV's FMA order on
///      AVX2 machines (rows: k0 x0, then fma(x_i, k_i, s); columns: k3 y0, then
///      fma(y_-i + y_i, k_{3+i}, s));
///   4. five AGGD fits per scale, on m and on the products m(i,j) m(i+di,j+dj) for the shifts
///      (0,1), (1,0), (1,1), (-1,1) (0 where the neighbour is outside): in double, over the N
///      pixels of the map, with P/Q the positive/negative values (NaN and 0 in neither),
///      l = sqrt(sum Q^2 / |Q|), r = sqrt(sum P^2 / |P|), g = l / r,
///      R = (sum |v| / N)^2 / (sum v^2 / N) (g^3 + 1)(g + 1) / (g^2 + 1)^2, and the shape a is
///      the first point of the grid 0.2, 0.201, ... (accumulated in double) where
///      |Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a)) - R| stops decreasing;
///   5. features per scale: a and (l^2 + r^2) / 2 of m; then per shift a, (r - l) Gamma(2/a) /
///      Gamma(1/a) sqrt(Gamma(1/a) / Gamma(3/a)), l^2, r^2 (each rounded to float): 36 in all;
///   6. each feature scaled to [-1, 1] by the range file (float), then the EPS_SVR of the model:
///      sum_k alpha_k exp(-gamma |sv_k - f|^2) - rho (kernel values in float, sum in double),
///      clamped to [0, 100] (brisque_options::clamp).
/// The features agree with OpenCV's bit for bit (tests/golden/brisque.json). The score differs
/// from OpenCV's by up to 1.4e-3 over the golden cases (1.8e-4 relative on a score of 1.85;
/// 1.6e-3 seen on a 512 x 512 photo): OpenCV takes the kernel exponentials with its own float
/// exp approximation, this header with the correctly rounded one, and with many coefficients of
/// +-1024 the last-bit differences add up. OpenCV's filter order depends on the CPU it runs on:
/// the reference is its AVX2 path (any recent x86); xrestore computes the same FMAs on every CPU.
///
/// Differences from OpenCV by design: images are C x H x W in [0,1] (values outside are clamped
/// when rounded to 8 bits) with 1 or 3 channels in RGB order; images that leave a fit without
/// positive or negative values (a flat image, for one) throw value_error where OpenCV returns NaN.
///
/// brisque_masked restricts the fits (step 4) to the pixels a 1 x H x W mask selects (nonzero);
/// the MSCN map itself still uses every pixel's neighbours. A product counts when the mask selects
/// its pixel and, if inside the image, its neighbour. At the half scale the mask is the 0/1 mask
/// resized like the image (step 2), selecting the entries >= 0.5. An all-ones mask gives brisque().

#include "xrestore/core/array_argument.hpp"
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/metrics/detail/common.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace xrestore {

/// Number of BRISQUE features: 18 per scale, two scales.
inline constexpr std::size_t brisque_feature_count = 36;

/// The 36 BRISQUE features (float, as OpenCV computes them): per scale, the shape and variance
/// of the MSCN fit, then shape, mean, left and right variance of each of the four products.
using brisque_feature_vector = std::array<float, brisque_feature_count>;

/// Parameters of brisque().
struct brisque_options {
    /// Clamp the score to [0, 100] as OpenCV does; false gives the SVM's raw prediction.
    bool clamp = true;
};

namespace detail {

// ---------------------------------------------------------------------------------------------
// A reader for the subset of YAML that OpenCV's FileStorage writes: block mappings and block
// sequences by indentation, flow sequences [a, b, ...] (over several lines), flow mappings
// { k: v } and plain scalars; `%YAML` and `---` lines and `!!` tags are skipped.
// ---------------------------------------------------------------------------------------------

/// A YAML value: a scalar, a sequence or a mapping, with the line it starts on.
struct yaml_node {
    enum class kind { scalar, sequence, mapping };
    kind type = kind::scalar;
    std::string text;
    std::vector<yaml_node> items;
    std::vector<std::pair<std::string, yaml_node>> fields;
    std::size_t line = 0;

    /// An empty scalar on line `at`.
    static yaml_node empty(std::size_t at) {
        yaml_node node;
        node.line = at;
        return node;
    }

    const yaml_node* field(std::string_view key) const {
        for (const auto& [k, v] : fields) {
            if (k == key) {
                return &v;
            }
        }
        return nullptr;
    }
};

class yaml_reader {
public:
    /// `origin` prefixes every message ("brisque_model::load: <file>").
    yaml_reader(const std::string& text, std::string origin) : origin_(std::move(origin)) {
        std::size_t number = 0;
        std::size_t start = 0;
        while (start <= text.size()) {
            std::size_t end = text.find('\n', start);
            if (end == std::string::npos) {
                end = text.size();
            }
            ++number;
            std::string s = text.substr(start, end - start);
            start = end + 1;
            while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) {
                s.pop_back();
            }
            std::size_t indent = 0;
            while (indent < s.size() && s[indent] == ' ') {
                ++indent;
            }
            if (indent == s.size() || s[indent] == '#' || (number == 1 && s[0] == '%') ||
                s == "---") {
                continue;
            }
            for (const char c : s) {
                if (c == '\t' || c == '\0' || static_cast<unsigned char>(c) < 0x20) {
                    fail(number, "a tab or control character (not a text file OpenCV wrote?)");
                }
            }
            lines_.push_back({indent, s.substr(indent), number});
        }
    }

    yaml_node parse() {
        if (lines_.empty()) {
            fail(0, "the file is empty");
        }
        yaml_node root = block(lines_[0].indent, 0);
        if (pos_ < lines_.size()) {
            fail(lines_[pos_].number, "unexpected indentation");
        }
        return root;
    }

    [[noreturn]] void fail(std::size_t line, std::string_view what) const {
        if (line == 0) {
            throw io_error(concat(origin_, ": ", what));
        }
        throw io_error(concat(origin_, ": line ", line, ": ", what));
    }

private:
    struct text_line {
        std::size_t indent;
        std::string text;
        std::size_t number;
    };

    static std::string trim(std::string_view s) {
        std::size_t a = 0;
        std::size_t b = s.size();
        while (a < b && s[a] == ' ') {
            ++a;
        }
        while (b > a && s[b - 1] == ' ') {
            --b;
        }
        return std::string(s.substr(a, b - a));
    }

    static bool is_item(const std::string& s) {
        return s[0] == '-' && (s.size() == 1 || s[1] == ' ');
    }

    /// Position of the ':' that ends a mapping key ("key: value" or "key:"), npos if none.
    static std::size_t key_colon(const std::string& s) {
        if (s[0] == '[' || s[0] == '{' || s[0] == '"' || s[0] == '\'') {
            return std::string::npos;
        }
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (s[i] == ':' && (i + 1 == s.size() || s[i + 1] == ' ')) {
                return i;
            }
        }
        return std::string::npos;
    }

    yaml_node block(std::size_t indent, int depth) {
        if (depth > 16) {
            fail(lines_[pos_].number, "nested more than 16 levels deep");
        }
        yaml_node node;
        node.line = lines_[pos_].number;
        if (is_item(lines_[pos_].text)) {
            node.type = yaml_node::kind::sequence;
            while (pos_ < lines_.size() && lines_[pos_].indent == indent &&
                   is_item(lines_[pos_].text)) {
                text_line& l = lines_[pos_];
                std::size_t offset = 1;
                while (offset < l.text.size() && l.text[offset] == ' ') {
                    ++offset;
                }
                if (offset == l.text.size()) { // "-" then the item on the next lines
                    ++pos_;
                    if (pos_ < lines_.size() && lines_[pos_].indent > indent) {
                        node.items.push_back(block(lines_[pos_].indent, depth + 1));
                    } else {
                        node.items.push_back(yaml_node::empty(l.number));
                    }
                } else if (key_colon(l.text.substr(offset)) != std::string::npos) {
                    // "- key: value": a mapping that starts on this line
                    l.text = l.text.substr(offset);
                    l.indent += offset;
                    node.items.push_back(block(l.indent, depth + 1));
                } else {
                    const std::string rest = l.text.substr(offset);
                    const std::size_t number = l.number;
                    ++pos_;
                    node.items.push_back(value(rest, number, indent, depth));
                }
            }
        } else {
            node.type = yaml_node::kind::mapping;
            while (pos_ < lines_.size() && lines_[pos_].indent == indent) {
                const text_line& l = lines_[pos_];
                if (is_item(l.text)) {
                    fail(l.number, "a sequence item among the keys of a mapping");
                }
                const std::size_t colon = key_colon(l.text);
                if (colon == std::string::npos || colon == 0) {
                    fail(l.number, concat("expected 'key: value', got '", l.text, "'"));
                }
                std::string key = trim(std::string_view(l.text).substr(0, colon));
                const std::string rest = l.text.substr(colon + 1);
                const std::size_t number = l.number;
                ++pos_;
                yaml_node v = value(rest, number, indent, depth);
                node.fields.emplace_back(std::move(key), std::move(v));
            }
        }
        if (pos_ < lines_.size() && lines_[pos_].indent > indent) {
            fail(lines_[pos_].number, "unexpected indentation");
        }
        return node;
    }

    /// The value after "key:" or "- " on line `number` (the lines after it not yet read).
    yaml_node value(std::string rest, std::size_t number, std::size_t indent, int depth) {
        rest = trim(rest);
        if (rest.rfind("!!", 0) == 0) { // a type tag such as !!opencv-matrix
            const std::size_t space = rest.find(' ');
            rest = space == std::string::npos ? std::string() : trim(rest.substr(space));
        }
        if (rest.empty()) {
            if (pos_ < lines_.size() && lines_[pos_].indent > indent) {
                return block(lines_[pos_].indent, depth + 1);
            }
            return yaml_node::empty(number);
        }
        if (rest[0] == '[' || rest[0] == '{') {
            return flow(rest, number);
        }
        if (rest.size() >= 2 && (rest[0] == '"' || rest[0] == '\'') && rest.back() == rest[0]) {
            rest = rest.substr(1, rest.size() - 2);
        }
        yaml_node node;
        node.text = rest;
        node.line = number;
        return node;
    }

    /// A flow sequence or mapping that starts with `rest`, continued on the following lines.
    yaml_node flow(std::string rest, std::size_t number) {
        const char open = rest[0];
        const char close = open == '[' ? ']' : '}';
        while (rest.find(close) == std::string::npos) {
            if (pos_ >= lines_.size()) {
                fail(number, concat("'", open, "' without its '", close, "' (truncated file?)"));
            }
            rest += ' ';
            rest += lines_[pos_].text;
            ++pos_;
        }
        const std::size_t end = rest.find(close);
        if (!trim(std::string_view(rest).substr(end + 1)).empty()) {
            fail(number, concat("text after '", close, "'"));
        }
        const std::string inner = rest.substr(1, end - 1);
        if (inner.find_first_of("[]{}") != std::string::npos) {
            fail(number, "nested flow collections are not supported");
        }
        yaml_node node;
        node.line = number;
        node.type = open == '[' ? yaml_node::kind::sequence : yaml_node::kind::mapping;
        if (trim(inner).empty()) {
            return node;
        }
        std::size_t start = 0;
        while (start <= inner.size()) {
            std::size_t comma = inner.find(',', start);
            if (comma == std::string::npos) {
                comma = inner.size();
            }
            const std::string item = trim(std::string_view(inner).substr(start, comma - start));
            start = comma + 1;
            if (item.empty()) {
                fail(number, concat("an empty element in '", open, " ... ", close, "'"));
            }
            if (open == '[') {
                yaml_node v;
                v.text = item;
                v.line = number;
                node.items.push_back(std::move(v));
            } else {
                const std::size_t colon = item.find(':');
                if (colon == std::string::npos || colon == 0) {
                    fail(number, concat("expected 'key: value' in '{ }', got '", item, "'"));
                }
                yaml_node v;
                v.text = trim(std::string_view(item).substr(colon + 1));
                v.line = number;
                node.fields.emplace_back(trim(std::string_view(item).substr(0, colon)),
                                         std::move(v));
            }
        }
        return node;
    }

    std::vector<text_line> lines_;
    std::size_t pos_ = 0;
    std::string origin_;
};

/// Reads the fields of an OpenCV YAML file, with messages naming the file, line and field.
struct yaml_fields {
    std::string origin; // "brisque_model::load: <file>"

    [[noreturn]] void fail(const yaml_node& at, std::string_view what) const {
        if (at.line == 0) {
            throw io_error(concat(origin, ": ", what));
        }
        throw io_error(concat(origin, ": line ", at.line, ": ", what));
    }

    const yaml_node& get(const yaml_node& map, std::string_view key, std::string_view path) const {
        if (map.type != yaml_node::kind::mapping) {
            fail(map, concat(path, " must be a mapping"));
        }
        const yaml_node* v = map.field(key);
        if (v == nullptr) {
            fail(map, concat("missing key ", path, key));
        }
        return *v;
    }

    std::string text(const yaml_node& v, std::string_view name) const {
        if (v.type != yaml_node::kind::scalar) {
            fail(v, concat(name, " must be a single value"));
        }
        return v.text;
    }

    double number(const yaml_node& v, std::string_view name) const {
        const std::string s = text(v, name);
        const char* first = s.data();
        const char* last = s.data() + s.size();
        if (first != last && *first == '+') {
            ++first;
        }
        double x = 0.0;
        const auto [end, ec] = std::from_chars(first, last, x);
        if (s.empty() || ec != std::errc() || end != last) {
            fail(v, concat(name, " must be a number, got '", s, "'"));
        }
        if (!std::isfinite(x)) {
            fail(v, concat(name, " must be finite, got ", s));
        }
        return x;
    }

    std::size_t count(const yaml_node& v, std::string_view name) const {
        const double x = number(v, name);
        if (x < 0 || x > 1e8 || x != std::floor(x)) {
            fail(v, concat(name, " must be a whole number from 0 to 1e8, got ", v.text));
        }
        return static_cast<std::size_t>(x);
    }

    const std::vector<yaml_node>& sequence(const yaml_node& v, std::string_view name,
                                           std::size_t expected) const {
        if (v.type != yaml_node::kind::sequence) {
            fail(v, concat(name, " must be a sequence"));
        }
        if (v.items.size() != expected) {
            fail(v, concat(name, " must have ", expected, " entries, got ", v.items.size()));
        }
        return v.items;
    }
};

/// The whole text of `path` (at most 64 MiB), or io_error naming it.
inline std::string read_text_file(const std::filesystem::path& path, std::string_view where) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw io_error(concat(where, ": cannot open ", path.string()));
    }
    std::string text;
    constexpr std::size_t limit = std::size_t{64} << 20;
    char buffer[1 << 16];
    while (in) {
        in.read(buffer, sizeof buffer);
        text.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (text.size() > limit) {
            throw io_error(concat(where, ": ", path.string(), " is larger than 64 MiB"));
        }
    }
    if (in.bad()) {
        throw io_error(concat(where, ": cannot read ", path.string()));
    }
    return text;
}

} // namespace detail

/// OpenCV's BRISQUE model: an epsilon-SVR with an RBF kernel over the 36 features scaled to
/// [-1, 1] by per-feature ranges.
struct brisque_model {
    /// RBF kernel parameter: K(a, b) = exp(-gamma |a - b|^2).
    double gamma = 0.0;
    /// The SVR's offset: prediction = sum_k alpha_k K(sv_k, f) - rho.
    double rho = 0.0;
    /// Support vectors, row-major, size() x 36.
    std::vector<float> support_vectors;
    /// Their coefficients.
    std::vector<double> alpha;
    /// Per-feature ranges: a feature v is scaled to -1 + 2 (v - min) / (max - min).
    brisque_feature_vector feature_min{};
    brisque_feature_vector feature_max{};

    /// Number of support vectors.
    std::size_t size() const { return alpha.size(); }

    /// Read the SVM (cv::ml::SVM's YAML: EPS_SVR or NU_SVR, RBF kernel, 36 variables, one
    /// decision function) and the range file (an opencv-matrix `range`, 2 x 36 float: minima,
    /// then maxima). Throws io_error naming the file, the line and what was wrong for an
    /// unreadable, truncated or malformed file (missing keys, wrong counts, non-numeric or
    /// non-finite numbers, a feature range with max <= min).
    static brisque_model load(const std::filesystem::path& model_yml,
                              const std::filesystem::path& range_yml) {
        constexpr std::string_view where = "brisque_model::load";
        brisque_model m;
        {
            const detail::yaml_fields f{detail::concat(where, ": ", model_yml.string())};
            const detail::yaml_node root =
                detail::yaml_reader(detail::read_text_file(model_yml, where), f.origin).parse();
            const detail::yaml_node& svm = f.get(root, "opencv_ml_svm", "");
            const std::string type = f.text(f.get(svm, "svmType", "opencv_ml_svm."), "svmType");
            if (type != "EPS_SVR" && type != "NU_SVR") {
                f.fail(
                    *svm.field("svmType"),
                    detail::concat("svmType must be EPS_SVR or NU_SVR (a regression), got ", type));
            }
            const detail::yaml_node& kernel = f.get(svm, "kernel", "opencv_ml_svm.");
            const std::string kernel_type =
                f.text(f.get(kernel, "type", "opencv_ml_svm.kernel."), "kernel.type");
            if (kernel_type != "RBF") {
                f.fail(*kernel.field("type"),
                       detail::concat("kernel.type must be RBF, got ", kernel_type));
            }
            m.gamma = f.number(f.get(kernel, "gamma", "opencv_ml_svm.kernel."), "kernel.gamma");
            if (!(m.gamma > 0.0)) {
                f.fail(*kernel.field("gamma"),
                       detail::concat("kernel.gamma must be positive, got ", m.gamma));
            }
            const detail::yaml_node& vars = f.get(svm, "var_count", "opencv_ml_svm.");
            if (f.count(vars, "var_count") != brisque_feature_count) {
                f.fail(vars, detail::concat("var_count must be 36 (the BRISQUE features), got ",
                                            vars.text));
            }
            const detail::yaml_node& total = f.get(svm, "sv_total", "opencv_ml_svm.");
            const std::size_t n = f.count(total, "sv_total");
            if (n == 0) {
                f.fail(total, "sv_total must be at least 1, got 0");
            }
            const auto& rows =
                f.sequence(f.get(svm, "support_vectors", "opencv_ml_svm."), "support_vectors", n);
            m.support_vectors.reserve(n * brisque_feature_count);
            for (std::size_t i = 0; i < n; ++i) {
                const std::string name = detail::concat("support_vectors[", i, "]");
                for (const detail::yaml_node& v :
                     f.sequence(rows[i], name, brisque_feature_count)) {
                    m.support_vectors.push_back(static_cast<float>(f.number(v, name)));
                }
            }
            const auto& functions = f.sequence(f.get(svm, "decision_functions", "opencv_ml_svm."),
                                               "decision_functions", 1);
            const detail::yaml_node& df = functions[0];
            const detail::yaml_node& count =
                f.get(df, "sv_count", "opencv_ml_svm.decision_functions[0].");
            if (f.count(count, "decision_functions[0].sv_count") != n) {
                f.fail(count, detail::concat("decision_functions[0].sv_count must equal sv_total (",
                                             n, "), got ", count.text));
            }
            m.rho = f.number(f.get(df, "rho", "opencv_ml_svm.decision_functions[0]."),
                             "decision_functions[0].rho");
            const auto& alpha =
                f.sequence(f.get(df, "alpha", "opencv_ml_svm.decision_functions[0]."),
                           "decision_functions[0].alpha", n);
            m.alpha.reserve(n);
            for (const detail::yaml_node& v : alpha) {
                m.alpha.push_back(f.number(v, "decision_functions[0].alpha"));
            }
        }
        {
            const detail::yaml_fields f{detail::concat(where, ": ", range_yml.string())};
            const detail::yaml_node root =
                detail::yaml_reader(detail::read_text_file(range_yml, where), f.origin).parse();
            const detail::yaml_node& range = f.get(root, "range", "");
            const detail::yaml_node& rows = f.get(range, "rows", "range.");
            const detail::yaml_node& cols = f.get(range, "cols", "range.");
            if (f.count(rows, "range.rows") != 2 ||
                f.count(cols, "range.cols") != brisque_feature_count) {
                f.fail(range, detail::concat("range must be 2 x 36 (minima, maxima), got ",
                                             rows.text, " x ", cols.text));
            }
            const detail::yaml_node& dt = f.get(range, "dt", "range.");
            if (f.text(dt, "range.dt") != "f") {
                f.fail(dt, detail::concat("range.dt must be f (float), got ", dt.text));
            }
            const auto& data =
                f.sequence(f.get(range, "data", "range."), "range.data", 2 * brisque_feature_count);
            for (std::size_t k = 0; k < brisque_feature_count; ++k) {
                m.feature_min[k] = static_cast<float>(f.number(data[k], "range.data"));
                m.feature_max[k] =
                    static_cast<float>(f.number(data[brisque_feature_count + k], "range.data"));
                if (!(m.feature_max[k] > m.feature_min[k])) {
                    f.fail(data[k],
                           detail::concat("range of feature ", k, " must have max > min, got [",
                                          m.feature_min[k], ", ", m.feature_max[k], "]"));
                }
            }
        }
        return m;
    }

    /// The bundled LIVE model: <dir>/iqa/brisque_model_live.yml and brisque_range_live.yml, with
    /// <dir> the environment variable XRESTORE_DATA_DIR when set, else the macro XRESTORE_DATA_DIR
    /// when the including program defines it (e.g. "<source>/data"; the project's tests and
    /// examples do). Throws io_error when neither is set or the files are missing or malformed.
    static brisque_model load_default() {
        std::filesystem::path dir;
        if (const char* env = std::getenv("XRESTORE_DATA_DIR"); env != nullptr && *env != '\0') {
            dir = env;
        } else {
#if defined(XRESTORE_DATA_DIR)
            dir = XRESTORE_DATA_DIR;
#else
            throw io_error("brisque_model::load_default: set the environment variable "
                           "XRESTORE_DATA_DIR to the folder that holds iqa/brisque_model_live.yml "
                           "(the project's data/), or define the macro XRESTORE_DATA_DIR");
#endif
        }
        return load(dir / "iqa" / "brisque_model_live.yml", dir / "iqa" / "brisque_range_live.yml");
    }

    /// The score of a feature vector: the features scaled by the ranges, the SVR's prediction
    /// (kernel values rounded to float as OpenCV does), clamped to [0, 100] unless asked not to.
    double predict(const brisque_feature_vector& features,
                   const brisque_options& options = {}) const {
        if (alpha.empty() || support_vectors.size() != alpha.size() * brisque_feature_count) {
            throw value_error(detail::concat(
                "brisque_model::predict: the model holds ", alpha.size(), " coefficients and ",
                support_vectors.size(), " support-vector values (want n and 36 n, n > 0)"));
        }
        brisque_feature_vector scaled;
        for (std::size_t k = 0; k < brisque_feature_count; ++k) {
            // -1 + 2 (v - min) / (max - min), in float like quality_utils::scale
            const float up = 2.0f * (features[k] - feature_min[k]);
            scaled[k] = -1.0f + up / (feature_max[k] - feature_min[k]);
        }
        double sum = -rho;
        for (std::size_t i = 0; i < alpha.size(); ++i) {
            const float* sv = support_vectors.data() + i * brisque_feature_count;
            double s = 0.0;
            for (std::size_t k = 0; k < brisque_feature_count; k += 4) {
                // float differences, squared in double (exact), in OpenCV's pairs
                const double t0 = static_cast<double>(sv[k] - scaled[k]);
                const double t1 = static_cast<double>(sv[k + 1] - scaled[k + 1]);
                s += t0 * t0 + t1 * t1;
                const double t2 = static_cast<double>(sv[k + 2] - scaled[k + 2]);
                const double t3 = static_cast<double>(sv[k + 3] - scaled[k + 3]);
                s += t2 * t2 + t3 * t3;
            }
            const float exponent = static_cast<float>(s * -gamma);
            const float kernel = static_cast<float>(std::exp(static_cast<double>(exponent)));
            sum += static_cast<double>(kernel) * alpha[i];
        }
        const float result = static_cast<float>(sum);
        if (!options.clamp) {
            return result;
        }
        return std::min(std::max(result, 0.0f), 100.0f);
    }
};

namespace detail {

/// A row-major h x w float plane.
struct brisque_plane {
    std::size_t h = 0;
    std::size_t w = 0;
    std::vector<float> v;
};

/// a * b rounded to float on its own: the volatile keeps compilers from fusing the product with
/// a following addition into an FMA (-ffp-contract=fast on FMA hardware, e.g. -march=native),
/// which would change OpenCV's roundings.
inline float brisque_product(float a, float b) {
    volatile float p = a * b;
    return p;
}

/// a * b rounded to double on its own (the volatile keeps it out of an FMA).
inline double brisque_product(double a, double b) {
    volatile double p = a * b;
    return p;
}

/// OpenCV's getGaussianKernel(7, 7/6) in float, centre first: k[0] = centre, k[i] = offset i.
inline constexpr float brisque_gauss[4] = {0x1.5edaccp-2f, 0x1.e5fb7cp-3f, 0x1.42e11cp-4f,
                                           0x1.9b929ap-7f};

/// Horizontal pass of OpenCV's 7-tap Gaussian on rows [r0, r1): out = k_-3 x_-3, then
/// out = fma(x_i, k_i, out) for i = -2..3, x clamped to the row (BORDER_REPLICATE).
XRESTORE_DETAIL_ALWAYS_INLINE inline void
brisque_blur_rows_body(const float* in, float* out, std::size_t w, std::size_t r0, std::size_t r1) {
    const float k[7] = {brisque_gauss[3], brisque_gauss[2], brisque_gauss[1], brisque_gauss[0],
                        brisque_gauss[1], brisque_gauss[2], brisque_gauss[3]};
    const auto iw = static_cast<std::ptrdiff_t>(w);
    for (std::size_t y = r0; y < r1; ++y) {
        const float* x = in + y * w;
        float* o = out + y * w;
        const auto edge = [&](std::ptrdiff_t j) {
            float s = k[0] * x[std::clamp<std::ptrdiff_t>(j - 3, 0, iw - 1)];
            for (std::ptrdiff_t i = 1; i < 7; ++i) {
                s = std::fma(x[std::clamp<std::ptrdiff_t>(j - 3 + i, 0, iw - 1)], k[i], s);
            }
            o[j] = s;
        };
        if (iw < 7) {
            for (std::ptrdiff_t j = 0; j < iw; ++j) {
                edge(j);
            }
            continue;
        }
        for (std::ptrdiff_t j = 0; j < 3; ++j) {
            edge(j);
        }
        XRESTORE_DETAIL_SIMD_LOOP
        for (std::ptrdiff_t j = 3; j < iw - 3; ++j) {
            const float* p = x + j - 3;
            float s = k[0] * p[0];
            s = std::fma(p[1], k[1], s);
            s = std::fma(p[2], k[2], s);
            s = std::fma(p[3], k[3], s);
            s = std::fma(p[4], k[4], s);
            s = std::fma(p[5], k[5], s);
            s = std::fma(p[6], k[6], s);
            o[j] = s;
        }
        for (std::ptrdiff_t j = std::max<std::ptrdiff_t>(iw - 3, 3); j < iw; ++j) {
            edge(j);
        }
    }
}

/// Vertical pass and MSCN on rows [r0, r1): mu = G * I and s2 = G * I^2 from the horizontal
/// passes hx, hq (centre k_0 y_0, then fma(y_-i + y_i, k_i, .) for i = 1..3, rows clamped), then
/// m = (I - mu) / (sqrt(s2 - mu mu) + 1/255).
XRESTORE_DETAIL_ALWAYS_INLINE inline void
brisque_mscn_rows_body(const float* img, const float* hx, const float* hq, float* out,
                       std::size_t h, std::size_t w, std::size_t r0, std::size_t r1, float* mu,
                       float* s2, float* mu_sq) {
    const float c = static_cast<float>(1.0 / 255.0);
    const auto ih = static_cast<std::ptrdiff_t>(h);
    for (std::size_t y = r0; y < r1; ++y) {
        const float* a[7];
        const float* b[7];
        for (std::ptrdiff_t i = -3; i <= 3; ++i) {
            const std::ptrdiff_t row =
                std::clamp<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(y) + i, 0, ih - 1);
            a[i + 3] = hx + static_cast<std::size_t>(row) * w;
            b[i + 3] = hq + static_cast<std::size_t>(row) * w;
        }
        const float* x = img + y * w;
        float* o = out + y * w;
        XRESTORE_DETAIL_SIMD_LOOP
        for (std::size_t j = 0; j < w; ++j) {
            float m = a[3][j] * brisque_gauss[0];
            m = std::fma(a[2][j] + a[4][j], brisque_gauss[1], m);
            m = std::fma(a[1][j] + a[5][j], brisque_gauss[2], m);
            mu[j] = std::fma(a[0][j] + a[6][j], brisque_gauss[3], m);
            float s = b[3][j] * brisque_gauss[0];
            s = std::fma(b[2][j] + b[4][j], brisque_gauss[1], s);
            s = std::fma(b[1][j] + b[5][j], brisque_gauss[2], s);
            s2[j] = std::fma(b[0][j] + b[6][j], brisque_gauss[3], s);
        }
        // mu^2 rounded and stored before the subtraction (OpenCV's cv::pow, then cv::subtract):
        // in its own loop so that no compiler fuses the two into an FMA
        XRESTORE_DETAIL_SIMD_LOOP
        for (std::size_t j = 0; j < w; ++j) {
            mu_sq[j] = mu[j] * mu[j];
        }
        XRESTORE_DETAIL_SIMD_LOOP
        for (std::size_t j = 0; j < w; ++j) {
            const float sigma = std::sqrt(s2[j] - mu_sq[j]) + c; // NaN below 0, as in OpenCV
            o[j] = (x[j] - mu[j]) / sigma;
        }
    }
}

#if XRESTORE_DETAIL_X86_DISPATCH
__attribute__((target("avx2,fma"))) inline void
brisque_blur_rows_avx2(const float* in, float* out, std::size_t w, std::size_t r0, std::size_t r1) {
    brisque_blur_rows_body(in, out, w, r0, r1);
}

__attribute__((target("avx2,fma"))) inline void
brisque_mscn_rows_avx2(const float* img, const float* hx, const float* hq, float* out,
                       std::size_t h, std::size_t w, std::size_t r0, std::size_t r1, float* mu,
                       float* s2, float* mu_sq) {
    brisque_mscn_rows_body(img, hx, hq, out, h, w, r0, r1, mu, s2, mu_sq);
}
#endif

inline void brisque_blur_rows(const float* in, float* out, std::size_t w, std::size_t r0,
                              std::size_t r1) {
#if XRESTORE_DETAIL_X86_DISPATCH
    if (cpu_has_avx2_fma()) {
        brisque_blur_rows_avx2(in, out, w, r0, r1);
        return;
    }
#endif
    brisque_blur_rows_body(in, out, w, r0, r1);
}

/// Rows [r0, r1) of the MSCN map; mu, s2 and mu_sq are scratch rows of w floats.
inline void brisque_mscn_rows(const float* img, const float* hx, const float* hq, float* out,
                              std::size_t h, std::size_t w, std::size_t r0, std::size_t r1,
                              float* mu, float* s2, float* mu_sq) {
#if XRESTORE_DETAIL_X86_DISPATCH
    if (cpu_has_avx2_fma()) {
        brisque_mscn_rows_avx2(img, hx, hq, out, h, w, r0, r1, mu, s2, mu_sq);
        return;
    }
#endif
    brisque_mscn_rows_body(img, hx, hq, out, h, w, r0, r1, mu, s2, mu_sq);
}

/// The MSCN map of a plane (step 3 of the file comment); rows in parallel, each output the same
/// arithmetic whatever the thread count.
inline brisque_plane brisque_mscn(const brisque_plane& img) {
    const std::size_t h = img.h;
    const std::size_t w = img.w;
    std::vector<float> square(h * w);
    for (std::size_t i = 0; i < h * w; ++i) {
        square[i] = img.v[i] * img.v[i];
    }
    std::vector<float> hx(h * w);
    std::vector<float> hq(h * w);
    brisque_plane out{h, w, std::vector<float>(h * w)};
    constexpr std::size_t rows_per_task = 32;
    const std::size_t tasks = (h + rows_per_task - 1) / rows_per_task;
    const bool parallel = h * w > (std::size_t{1} << 16);
    parallel_tasks(tasks, parallel, [&](std::size_t t, std::size_t) {
        const std::size_t r1 = std::min(h, (t + 1) * rows_per_task);
        brisque_blur_rows(img.v.data(), hx.data(), w, t * rows_per_task, r1);
        brisque_blur_rows(square.data(), hq.data(), w, t * rows_per_task, r1);
    });
    parallel_tasks(tasks, parallel, [&](std::size_t t, std::size_t) {
        const std::size_t r1 = std::min(h, (t + 1) * rows_per_task);
        std::vector<float> scratch(3 * w);
        brisque_mscn_rows(img.v.data(), hx.data(), hq.data(), out.v.data(), h, w, t * rows_per_task,
                          r1, scratch.data(), scratch.data() + w, scratch.data() + 2 * w);
    });
    return out;
}

/// The four taps (indices clamped to [0, n_src)) and weights of cv::resize INTER_CUBIC from
/// n_src to n_dst samples: f = float((d + 0.5) n_src / n_dst - 0.5), s = floor(f), t = f - s,
/// OpenCV's interpolateCubic(t) with A = -0.75, every float operation rounded on its own.
inline void brisque_cubic_table(std::size_t n_src, std::size_t n_dst,
                                std::vector<std::size_t>& index, std::vector<float>& weight) {
    index.resize(4 * n_dst);
    weight.resize(4 * n_dst);
    const double scale = 1.0 / (static_cast<double>(n_dst) / static_cast<double>(n_src));
    const auto last = static_cast<std::ptrdiff_t>(n_src) - 1;
    constexpr float a = -0.75f;
    for (std::size_t d = 0; d < n_dst; ++d) {
        const auto f = static_cast<float>((static_cast<double>(d) + 0.5) * scale - 0.5);
        const auto s = static_cast<std::ptrdiff_t>(std::floor(f));
        const float t = f - static_cast<float>(s);
        const float t1 = t + 1.0f;
        const float u = 1.0f - t;
        float* c = weight.data() + 4 * d;
        // ((A (t+1) - 5A) (t+1) + 8A) (t+1) - 4A
        c[0] =
            brisque_product(brisque_product(brisque_product(a, t1) - 5.0f * a, t1) + 8.0f * a, t1) -
            4.0f * a;
        // ((A + 2) t - (A + 3)) t t + 1
        c[1] = brisque_product(brisque_product(brisque_product(a + 2.0f, t) - (a + 3.0f), t), t) +
               1.0f;
        c[2] = brisque_product(brisque_product(brisque_product(a + 2.0f, u) - (a + 3.0f), u), u) +
               1.0f;
        c[3] = 1.0f - c[0] - c[1] - c[2];
        for (std::ptrdiff_t k = 0; k < 4; ++k) {
            index[4 * d + static_cast<std::size_t>(k)] =
                static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(s + k - 1, 0, last));
        }
    }
}

/// cv::resize(x, (w / 2, h / 2), INTER_CUBIC) on float: horizontal taps summed left to right;
/// vertical taps as b0 S0 + (b1 S1 + (b2 S2 + b3 S3)) on the first 4 floor(w' / 4) columns (its
/// SIMD loop) and left to right on the rest.
inline brisque_plane brisque_resize_half(const brisque_plane& x) {
    const std::size_t h2 = x.h / 2;
    const std::size_t w2 = x.w / 2;
    std::vector<std::size_t> ix;
    std::vector<std::size_t> iy;
    std::vector<float> wx;
    std::vector<float> wy;
    brisque_cubic_table(x.w, w2, ix, wx);
    brisque_cubic_table(x.h, h2, iy, wy);
    std::vector<float> horizontal(x.h * w2);
    for (std::size_t y = 0; y < x.h; ++y) {
        const float* row = x.v.data() + y * x.w;
        float* o = horizontal.data() + y * w2;
        for (std::size_t d = 0; d < w2; ++d) {
            const std::size_t* i = ix.data() + 4 * d;
            const float* c = wx.data() + 4 * d;
            o[d] = brisque_product(row[i[0]], c[0]) + brisque_product(row[i[1]], c[1]) +
                   brisque_product(row[i[2]], c[2]) + brisque_product(row[i[3]], c[3]);
        }
    }
    brisque_plane out{h2, w2, std::vector<float>(h2 * w2)};
    const std::size_t vector_part = 4 * (w2 / 4);
    for (std::size_t d = 0; d < h2; ++d) {
        const float* s0 = horizontal.data() + iy[4 * d] * w2;
        const float* s1 = horizontal.data() + iy[4 * d + 1] * w2;
        const float* s2 = horizontal.data() + iy[4 * d + 2] * w2;
        const float* s3 = horizontal.data() + iy[4 * d + 3] * w2;
        const float* b = wy.data() + 4 * d;
        float* o = out.v.data() + d * w2;
        for (std::size_t j = 0; j < vector_part; ++j) {
            o[j] = brisque_product(s0[j], b[0]) +
                   (brisque_product(s1[j], b[1]) +
                    (brisque_product(s2[j], b[2]) + brisque_product(s3[j], b[3])));
        }
        for (std::size_t j = vector_part; j < w2; ++j) {
            o[j] = brisque_product(s0[j], b[0]) + brisque_product(s1[j], b[1]) +
                   brisque_product(s2[j], b[2]) + brisque_product(s3[j], b[3]);
        }
    }
    return out;
}

/// The shape grid of the AGGD fit: a = 0.2, 0.201, ... < 10 (accumulated in double, as OpenCV
/// steps it) with r(a) = Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a)). Built once.
inline const std::vector<std::pair<double, double>>& brisque_gamma_grid() {
    static const std::vector<std::pair<double, double>> grid = [] {
        std::vector<std::pair<double, double>> g;
        for (double a = 0.2; a < 10; a += 0.001) {
            const double t2 = std::tgamma(2 / a);
            g.emplace_back(a, t2 * t2 / (std::tgamma(1 / a) * std::tgamma(3 / a)));
        }
        return g;
    }();
    return grid;
}

/// Sums of one AGGD fit, accumulated in row-major order like OpenCV.
struct brisque_moments {
    std::int64_t positive = 0;
    std::int64_t negative = 0;
    std::int64_t total = 0;
    double positive_squares = 0.0;
    double negative_squares = 0.0;
    double absolute_sum = 0.0;

    /// Without branches on the sign (random for MSCN values): adding +0.0 to a sum that is never
    /// -0 leaves it unchanged, so the sums are OpenCV's exactly.
    void add(float value) {
        const auto v = static_cast<double>(value);
        const bool up = v > 0;
        const bool down = v < 0; // NaN: neither
        ++total;
        positive += up ? 1 : 0;
        negative += down ? 1 : 0;
        const double x = up || down ? v : 0.0; // 0 for NaN (rare: a predictable branch)
        const double square = x * x;
        // times 1 or 0: exact, and without a branch on the random sign
        positive_squares += square * static_cast<double>(up);
        negative_squares += square * static_cast<double>(down);
        absolute_sum += std::fabs(x); // OpenCV: += v, or -= v for v < 0: the same roundings
    }
};

/// The fitted left and right deviations and shape.
struct brisque_fit {
    double left = 0.0;
    double right = 0.0;
    double shape = 0.0;
};

inline brisque_fit brisque_aggd(const brisque_moments& m) {
    brisque_fit f;
    f.left = std::pow(m.negative_squares / static_cast<double>(m.negative), 0.5);
    f.right = std::pow(m.positive_squares / static_cast<double>(m.positive), 0.5);
    const double g = f.left / f.right;
    const auto n = static_cast<double>(m.total);
    const double mean_abs = m.absolute_sum / n;
    const double rhat = mean_abs * mean_abs / ((m.negative_squares + m.positive_squares) / n);
    const double rhat_norm =
        rhat * (std::pow(g, 3.0) + 1) * (g + 1) / std::pow(brisque_product(g, g) + 1, 2.0);
    double previous = 1e10;
    for (const auto& [a, r] : brisque_gamma_grid()) {
        const double diff = std::abs(r - rhat_norm);
        if (diff > previous) {
            break;
        }
        previous = diff;
        f.shape = a;
    }
    return f;
}

/// The sums of fit t (0: the MSCN map, 1..4: its products with the neighbour at shift t) of a
/// map, restricted by `keep` (h x w, or empty for all) as described in the file comment; one
/// sequential pass in row-major order, like OpenCV.
inline brisque_moments brisque_fit_moments(const brisque_plane& m, const std::vector<char>& keep,
                                           std::size_t t) {
    static constexpr std::ptrdiff_t shifts[4][2] = {{0, 1}, {1, 0}, {1, 1}, {-1, 1}};
    const auto h = static_cast<std::ptrdiff_t>(m.h);
    const auto w = static_cast<std::ptrdiff_t>(m.w);
    const bool all = keep.empty();
    brisque_moments s;
    if (t == 0) {
        for (std::size_t i = 0; i < m.v.size(); ++i) {
            if (all || keep[i] != 0) {
                s.add(m.v[i]);
            }
        }
        return s;
    }
    const std::ptrdiff_t di = shifts[t - 1][0];
    const std::ptrdiff_t dj = shifts[t - 1][1];
    for (std::ptrdiff_t i = 0; i < h; ++i) {
        for (std::ptrdiff_t j = 0; j < w; ++j) {
            const std::ptrdiff_t p = i * w + j;
            const std::ptrdiff_t i2 = i + di;
            const std::ptrdiff_t j2 = j + dj;
            const bool inside = i2 >= 0 && i2 < h && j2 >= 0 && j2 < w;
            const std::ptrdiff_t q = i2 * w + j2;
            if (!all && (keep[static_cast<std::size_t>(p)] == 0 ||
                         (inside && keep[static_cast<std::size_t>(q)] == 0))) {
                continue;
            }
            // the product with the zero-padded neighbour map (0 outside the image)
            s.add(m.v[static_cast<std::size_t>(p)] *
                  (inside ? m.v[static_cast<std::size_t>(q)] : 0.0f));
        }
    }
    return s;
}

/// The 18 features of one scale from the sums of its five fits. Throws value_error naming the fit
/// left without positive or negative values.
inline void brisque_scale_features(const brisque_moments* moments, bool all, std::size_t scale,
                                   std::string_view where, float* features) {
    static constexpr const char* names[5] = {"the MSCN coefficients", "the horizontal products",
                                             "the vertical products", "the diagonal products",
                                             "the anti-diagonal products"};
    for (std::size_t t = 0; t < 5; ++t) {
        if (moments[t].positive == 0 || moments[t].negative == 0) {
            throw value_error(concat(
                where, ": at scale ", scale + 1, " ", names[t], " of the ",
                all ? "image" : "selected pixels", " have no ",
                moments[t].positive == 0 ? "positive" : "negative", " values (", moments[t].total,
                " values): BRISQUE's fit is undefined (a flat or nearly flat image; OpenCV "
                "returns NaN)"));
        }
    }
    const brisque_fit f = brisque_aggd(moments[0]);
    features[0] = static_cast<float>(f.shape);
    features[1] =
        static_cast<float>(brisque_product(f.left, f.left) + brisque_product(f.right, f.right)) /
        2.0f;
    for (std::size_t t = 1; t < 5; ++t) {
        const brisque_fit p = brisque_aggd(moments[t]);
        const double a = p.shape;
        const double constant = std::sqrt(std::tgamma(1 / a)) / std::sqrt(std::tgamma(3 / a));
        const double mean =
            (p.right - p.left) * (std::tgamma(2 / a) / std::tgamma(1 / a)) * constant;
        float* o = features + 2 + 4 * (t - 1);
        o[0] = static_cast<float>(a);
        o[1] = static_cast<float>(mean);
        o[2] = static_cast<float>(p.left * p.left);
        o[3] = static_cast<float>(p.right * p.right);
    }
}

/// The 8-bit grey plane of step 1, as floats in [0, 1]. Validates the image.
inline brisque_plane brisque_grey(const image& x, std::string_view where) {
    const std::size_t c = x.shape()[0];
    const std::size_t h = x.shape()[1];
    const std::size_t w = x.shape()[2];
    if (c != 1 && c != 3) {
        throw shape_error(concat(where, ": image must have 1 (grey) or 3 (RGB) channels, got ",
                                 shape_string(x.shape())));
    }
    if (h < 2 || w < 2) {
        throw shape_error(concat(where,
                                 ": image must be at least 2 x 2 (the second scale halves "
                                 "it), got ",
                                 shape_string(x.shape())));
    }
    require_finite(x, where, "image");
    const std::size_t n = h * w;
    const float* p = x.data();
    // round(255 v) clamped to [0, 255]: 255 v is exact in double, and its only tie in range,
    // 127.5 (v = 0.5), rounds up both half-up and half-to-even
    const auto to_u8 = [](float v) {
        const double u = static_cast<double>(v) * 255.0 + 0.5;
        return static_cast<std::int32_t>(std::clamp(u, 0.0, 255.0));
    };
    constexpr float inv255 = static_cast<float>(1.0 / 255.0);
    brisque_plane g{h, w, std::vector<float>(n)};
    float* o = g.v.data();
    if (c == 1) {
        XRESTORE_DETAIL_SIMD_LOOP
        for (std::size_t i = 0; i < n; ++i) {
            o[i] = static_cast<float>(to_u8(p[i])) * inv255;
        }
    } else {
        XRESTORE_DETAIL_SIMD_LOOP
        for (std::size_t i = 0; i < n; ++i) {
            // cvtColor BGR2GRAY, 8-bit: (9798 R + 19235 G + 3735 B + 2^14) >> 15
            const std::int32_t u = (9798 * to_u8(p[i]) + 19235 * to_u8(p[n + i]) +
                                    3735 * to_u8(p[2 * n + i]) + 16384) >>
                                   15;
            o[i] = static_cast<float>(u) * inv255;
        }
    }
    return g;
}

/// The 36 features; `mask` null for the whole image.
inline brisque_feature_vector brisque_compute_features(const image& x, const image* mask,
                                                       std::string_view where) {
    const brisque_plane grey = brisque_grey(x, where);
    std::vector<char> keep;
    std::vector<char> keep_half;
    const brisque_plane half = brisque_resize_half(grey);
    if (mask != nullptr) {
        require_shared_mask(*mask, shape_of<3>(x), where, "BRISQUE");
        const float* m = mask->data();
        brisque_plane selected{grey.h, grey.w, std::vector<float>(grey.v.size())};
        keep.resize(grey.v.size());
        std::size_t count = 0;
        for (std::size_t i = 0; i < keep.size(); ++i) {
            keep[i] = m[i] != 0.0f ? 1 : 0;
            selected.v[i] = m[i] != 0.0f ? 1.0f : 0.0f;
            count += static_cast<std::size_t>(keep[i]);
        }
        if (count == 0) {
            throw value_error(concat(where, ": the mask selects no pixel"));
        }
        const brisque_plane resized = brisque_resize_half(selected);
        keep_half.resize(resized.v.size());
        count = 0;
        for (std::size_t i = 0; i < keep_half.size(); ++i) {
            keep_half[i] = resized.v[i] >= 0.5f ? 1 : 0;
            count += static_cast<std::size_t>(keep_half[i]);
        }
        if (count == 0) {
            throw value_error(concat(where, ": the mask, resized to the second scale (", half.h,
                                     " x ", half.w, "), selects no pixel (no entry >= 0.5)"));
        }
    }
    const brisque_plane maps[2] = {brisque_mscn(grey), brisque_mscn(half)};
    const std::vector<char>* keeps[2] = {&keep, &keep_half};
    // the ten fits in parallel, each one sequential pass (the larger scale first)
    std::array<brisque_moments, 10> moments;
    parallel_tasks(10, grey.v.size() > (std::size_t{1} << 15), [&](std::size_t t, std::size_t) {
        moments[t] = brisque_fit_moments(maps[t / 5], *keeps[t / 5], t % 5);
    });
    brisque_feature_vector features{};
    brisque_scale_features(moments.data(), mask == nullptr, 0, where, features.data());
    brisque_scale_features(moments.data() + 5, mask == nullptr, 1, where, features.data() + 18);
    return features;
}

} // namespace detail

/// The 36 BRISQUE features of a 1- or 3-channel C x H x W image in [0,1] (H, W >= 2), equal to
/// OpenCV's QualityBRISQUE::computeFeatures on the 8-bit image. Throws shape_error for other
/// channel counts or sizes, value_error for non-finite values or an image too flat to fit.
inline brisque_feature_vector brisque_features(const image& x) {
    return detail::brisque_compute_features(x, nullptr, "brisque_features");
}

/// The features with the fits restricted to the pixels a 1 x H x W mask selects (file comment).
/// Throws like brisque_features(), shape_error for a mask of another shape, value_error for a
/// non-finite mask or one that selects no pixel (at either scale) or too few to fit.
inline brisque_feature_vector brisque_features_masked(const image& x, const image& mask) {
    return detail::brisque_compute_features(x, &mask, "brisque_features_masked");
}

/// BRISQUE score of a 1- or 3-channel image in [0,1] with `model` (brisque_model::load_default()
/// for OpenCV's LIVE model): lower is better, in [0, 100] unless options.clamp is false.
inline double brisque(const image& x, const brisque_model& model,
                      const brisque_options& options = {}) {
    return model.predict(detail::brisque_compute_features(x, nullptr, "brisque"), options);
}

/// BRISQUE of the pixels a 1 x H x W mask selects (see the file comment); an all-ones mask gives
/// brisque(). Throws like brisque_features_masked().
inline double brisque_masked(const image& x, const image& mask, const brisque_model& model,
                             const brisque_options& options = {}) {
    return model.predict(detail::brisque_compute_features(x, &mask, "brisque_masked"), options);
}

// Arguments that are not images and would convert to them only by copying an array of unfixed
// rank, changing the rank or narrowing double to float fail to compile here with a plain message
// naming the type needed (core/array_argument.hpp) instead of converting silently.
template <class E>
requires detail::mismatched_arrays<image, E> brisque_feature_vector brisque_features(const E&) {
    detail::reject_arrays<image, E>();
    return {};
}

template <class E, class M>
requires detail::mismatched_arrays<image, E, M>
    brisque_feature_vector brisque_features_masked(const E&, const M&) {
    detail::reject_arrays<image, E, M>();
    return {};
}

template <class E>
requires detail::mismatched_arrays<image, E>
double brisque(const E&, const brisque_model&, const brisque_options& = {}) {
    detail::reject_arrays<image, E>();
    return {};
}

template <class E, class M>
requires detail::mismatched_arrays<image, E, M>
double brisque_masked(const E&, const M&, const brisque_model&, const brisque_options& = {}) {
    detail::reject_arrays<image, E, M>();
    return {};
}

} // namespace xrestore
