// seqlab/core/version.cpp: library_version() from the build's configured project version.
#include "seqlab/core/version.hpp"

#include "seqlab_config.hpp"

namespace seqlab {

const char* library_version() { return SEQLAB_VERSION; }

}  // namespace seqlab
