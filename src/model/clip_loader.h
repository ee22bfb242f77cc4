// Loading Chinese-CLIP checkpoints into the fp32 ClipWeights of model/weights.h.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/weights.h"

namespace sa {

// Loads any supported Chinese-CLIP checkpoint:
// - an official cn_clip file (`clip_cn_*.pt`, torch zip, usually fp16):
//   {"state_dict": {"module.visual.conv1.weight": ...}} (the "module." prefix
//   and the "state_dict" wrapper are optional). The architecture is `arch` if
//   given, else `model_info.json` beside the file (cn_clip's merged config),
//   else the file name (clip_cn_vit-b-16.pt -> ViT-B-16), else it is inferred
//   from the tensor shapes (head width 64, 80 for width 1280).
// - an HF ChineseCLIPModel directory (config.json + model.safetensors or
//   pytorch_model.bin), or one of those two files inside such a directory.
// Every shape is read from the tensors and must agree with the architecture
// (InvalidArgument naming the field otherwise), so any ViT/BERT size loads.
// ClipWeights::arch is the known architecture the weights match, else "custom".
// Errors: NotFound (file, config.json, tensor), Corruption (bad bytes),
// InvalidArgument (unknown arch name, shape mismatch), Unimplemented (RN50,
// sharded HF checkpoints).
Result<ClipWeights> load_clip_weights(const std::string& path, const std::string& arch = "");

// Steps a caller runs while the weights are read, to bound the memory of a
// load (the INT8 load quantizes the image tower and drops its fp32 weights
// before the text tower is read).
struct ClipLoadHooks {
  // Called once the image tower is complete (every visual tensor read, none of
  // the text tower yet); an error aborts the load with it.
  std::function<Status(VitWeights&)> after_visual;
};
Result<ClipWeights> load_clip_weights(const std::string& path, const std::string& arch,
                                      const ClipLoadHooks& hooks);

// "ViT-B-16", "ViT-L-14", "ViT-L-14-336", "ViT-H-14". ("RN50" is recognised
// only to be rejected as Unimplemented.)
std::vector<std::string> known_clip_archs();

// Hyper-parameters of a known architecture (cn_clip model_configs/*.json);
// benchmarks and tests use it to build random weights of the real sizes.
struct ClipArchSpec {
  std::string name;
  int embed_dim = 0;
  VitConfig vision;
  BertConfig text;
};
Result<ClipArchSpec> clip_arch_spec(const std::string& name);

}  // namespace sa
