// seqlab/core/one_line.hpp: PRIVATE (not installed). Keeps UserError messages to ONE line.
#pragma once

#include <string>

namespace seqlab {

// `message` with every line break and other control character except tab written as an escape
// ("\n", "\r", "\xNN"), so that a message quoting the input stays one line. input_error,
// user_error and the HDF5 helpers' format_error apply it to every message they throw.
std::string one_line(const std::string& message);

}  // namespace seqlab
