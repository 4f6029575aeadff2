// QEMU's -initrd list syntax (QEMU passes each whole entry, path included,
// as the module's command line; so does GRUB).
#include "platform/loader/multiboot_loader.h"

namespace vmxsim::loader {

std::vector<Module> parse_module_list(const std::string& arg) {
    std::vector<std::string> entries;
    std::string cur;
    size_t i = 0;
    while (i < arg.size()) {
        if (arg[i] != ',') {
            cur += arg[i++];
        } else if (i + 1 < arg.size() && arg[i + 1] == ',') {
            cur += ',';  // ",," is a literal comma
            i += 2;
        } else {
            entries.push_back(cur);
            cur.clear();
            ++i;
        }
    }
    if (!cur.empty()) entries.push_back(cur);  // a trailing ',' ends the list, as in QEMU

    std::vector<Module> modules;
    for (size_t n = 0; n < entries.size(); ++n) {
        const std::string& e = entries[n];
        std::string path = e.substr(0, e.find(' '));
        if (path.empty())
            throw LoadError("-initrd: module " + std::to_string(n + 1) + " of \"" + arg +
                            "\" has no file name");
        modules.push_back({path, e});
    }
    return modules;
}

}  // namespace vmxsim::loader
