// libsystemc.so defines main() and requires sc_main; vmxsim has its own main() (and the Python
// module none), so this stub only satisfies the link and is never called.
extern "C" __attribute__((visibility("default"))) int sc_main(int, char**) { return 0; }
