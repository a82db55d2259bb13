// seqlab/core/version.hpp: the version of the seqlab library, which has one source: the project
// version in the root meson.build (the CLI's --version, the `created_by` attribute of every file
// seqlab writes, the shared library's file name and seqlab.pc all take it from there).
#pragma once

namespace seqlab {

// Ensures: the version of the library the program runs with, e.g. "0.3.0" (that of the shared
// library loaded at run time, which may differ from the headers a program was built with).
// Cost: O(1).
const char* library_version();

}  // namespace seqlab
