#include "platform/loader/byte_io.h"

#include <cstdio>

namespace vmxsim::loader::detail {

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string range_str(uint64_t start, uint64_t len) {
    if (len != 0 && len - 1 > UINT64_MAX - start) return "[" + hex(start) + ", +" + hex(len) + ")";
    return "[" + hex(start) + ", " + hex(start + len) + ")";
}

void fail(const std::string& name, const std::string& problem) { throw LoadError(name + ": " + problem); }

}  // namespace vmxsim::loader::detail
