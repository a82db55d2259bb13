// tools/seqlab/commands.hpp: the entry point of each subcommand (one .cpp file per command).
// Each gets the arguments after the command name and returns the process exit code; user errors
// are thrown as seqlab::UserError and worded by main().
#pragma once

#include <string>
#include <vector>

namespace seqlab::cli {

// --- datasets ---
// --- train / eval / sample ---

}  // namespace seqlab::cli
