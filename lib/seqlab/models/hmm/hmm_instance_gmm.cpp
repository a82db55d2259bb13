// seqlab/models/hmm/hmm_instance_gmm.cpp: the one compiled copy of Hmm<GmmDiagEmission>
// (declared extern in frame_hmm.hpp). One emission per file, so the engine templates of the four
// frame emissions compile in parallel.
#include "seqlab/models/hmm/gmm.hpp"
#include "seqlab/models/hmm/hmm_impl.hpp"

namespace seqlab {

template class Hmm<GmmDiagEmission>;

}  // namespace seqlab
