// Branch-probability hints for the simulator's hot paths.
#pragma once

#define VMXSIM_LIKELY(x) __builtin_expect(!!(x), 1)
#define VMXSIM_UNLIKELY(x) __builtin_expect(!!(x), 0)
