// Temporaries of atomic saves and their clean-up after writers that died mid-save.
//
// Every save writes a temporary sibling of its target (a file or a directory) whose name
// carries `temporary_suffix()`: ".strata-tmp-<pid>-t<start>-<n>-<random>", where <start> is
// the writer's process start time (field 22 of /proc/<pid>/stat, clock ticks since boot).
// A save killed before its commit point leaves that temporary behind; the next save to the
// same target removes it with `remove_abandoned_temporaries`. A temporary is abandoned when
// its process is gone (kill(pid, 0) fails with ESRCH) or when a process with that pid runs
// but started at another time (the pid was reused); a temporary of this process or of any
// process that still runs is never touched (docs/DECISIONS.md, "Issue 20, killed saves and
// error hygiene").
#pragma once

#include "strata/export.hpp"
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

STRATA_API_BEGIN

namespace strata {

// The suffix a save appends to its target's name for its temporary (unique in this
// process). Thread safety: may be called concurrently.
std::string temporary_suffix();

// True if `name` (a file name) is a Strata temporary whose writer no longer runs. Names
// without a ".strata-tmp-<pid>" part are never abandoned. Never throws.
bool is_abandoned_temporary(std::string_view name);

// Removes the abandoned temporaries (files or directory trees) in `dir` whose names begin
// with `name_prefix`, through the file-system seam; returns how many were removed. A
// temporary that cannot be removed is a warning in the log, never an error: the save goes
// on. Never throws. Thread safety: may be called concurrently (a temporary two callers
// both remove is removed once).
std::size_t remove_abandoned_temporaries(const std::filesystem::path& dir, std::string_view name_prefix);

}  // namespace strata

STRATA_API_END
