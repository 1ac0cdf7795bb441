// Run-time CPU-feature dispatch for the plugin's own loops. The plugin is compiled for the
// baseline x86-64 (SSE2) so that it loads on any x86-64 CPU; a function marked
// STRATA_CPU_CLONES is compiled once more for AVX2 and for AVX-512F, and the dynamic loader
// picks the best version for the CPU it runs on (GCC's and Clang's target_clones, an
// ifunc). Neither target enables FMA, and the sources that use it are compiled with
// -ffp-contract=off: every operation rounds as the baseline build's does, only wider.
//
// target_clones does not apply to templates (Clang refuses it): write the loop as an
// always-inline template (STRATA_CPU_INLINE) and clone thin non-template wrappers per type.
#pragma once

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRATA_CPU_NO_CLONES 1
#endif
#endif
#if defined(__x86_64__) && defined(__ELF__) && !defined(__SANITIZE_ADDRESS__) && !defined(STRATA_CPU_NO_CLONES)
#define STRATA_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define STRATA_CPU_CLONES
#endif
#define STRATA_CPU_INLINE [[gnu::always_inline]] inline
