// seqlab/models/hmm/hmm_instance_gaussian_full.cpp: the one compiled copy of Hmm<GaussianFullEmission>
// (declared extern in frame_hmm.hpp). One emission per file, so the engine templates of the four
// frame emissions compile in parallel.
#include "seqlab/models/hmm/gaussian.hpp"
#include "seqlab/models/hmm/hmm_impl.hpp"

namespace seqlab {

template class Hmm<GaussianFullEmission>;

}  // namespace seqlab
