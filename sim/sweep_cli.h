// `vmxsim sweep`: run one kernel at every point of a parameter grid, each point in its own
// forked process, and write one CSV or JSON row per point (docs/cli.md, "Sweeps"). The Python
// vmxsim.sweep() produces the same columns.
#pragma once

#include "sim/simulation.h"

namespace boost::program_options {
class variables_map;
}

namespace vmxsim {

// The run options both command lines share, from a parsed command line: --append, --initrd,
// --cpu, --config, --smp, -m, --max-insns, --max-cycles and --set (applied after the others, so
// an explicit --set wins). The kernel and the serial output are the caller's.
RunOptions run_options_from(const boost::program_options::variables_map& vm);

// argv[1] is "sweep". Returns the process exit status: 0 when every point ran (whatever its
// guest did: that is data), 2 for bad options, grid keys or values (nothing ran), 10 when some
// point could not produce a result (its row says why).
int sweep_main(int argc, char** argv);

}  // namespace vmxsim
