// Every tensor name the loaders look up, in one place.
//
// Patterns with "{}" take a layer index (tn::at). Prefixes ("module.",
// "text_model.", "bert." ...) are joined on by the loaders. Names were taken
// from the real files in tests/data (cn_clip 1.5 checkpoints, transformers'
// ChineseCLIPModel / BertModel / XLMRobertaModel).
#pragma once

#include <string>

namespace sa::tn {

// "encoder.layer.{}.x" + 3 -> "encoder.layer.3.x"
inline std::string at(const char* pattern, int i) {
  std::string s(pattern);
  const size_t p = s.find("{}");
  if (p != std::string::npos) s.replace(p, 2, std::to_string(i));
  return s;
}

// LayerNorm parameters: ".weight"/".bias", or ".gamma"/".beta" in TF-converted BERT files.
inline constexpr const char* kWeightSuffix = ".weight";
inline constexpr const char* kBiasSuffix = ".bias";
inline constexpr const char* kLegacyGammaSuffix = ".gamma";
inline constexpr const char* kLegacyBetaSuffix = ".beta";

// ---- official cn_clip checkpoint (clip_cn_*.pt), after stripping "module." ----
namespace official {
inline constexpr const char* kModulePrefix = "module.";
inline constexpr const char* kConv1 = "visual.conv1.weight";                  // [width, 3, p, p]
inline constexpr const char* kClassEmbedding = "visual.class_embedding";      // [width]
inline constexpr const char* kPositionalEmbedding = "visual.positional_embedding";  // [n_tok, width]
inline constexpr const char* kLnPreW = "visual.ln_pre.weight";
inline constexpr const char* kLnPreB = "visual.ln_pre.bias";
inline constexpr const char* kLnPostW = "visual.ln_post.weight";
inline constexpr const char* kLnPostB = "visual.ln_post.bias";
inline constexpr const char* kProj = "visual.proj";                           // [width, embed]
inline constexpr const char* kBlockPrefix = "visual.transformer.resblocks.";  // + N + "."
inline constexpr const char* kInProjW = "visual.transformer.resblocks.{}.attn.in_proj_weight";  // [3w, w]
inline constexpr const char* kInProjB = "visual.transformer.resblocks.{}.attn.in_proj_bias";
// FlashAttention fine-tunes save the same tensors as Wqkv (cn_clip convert_state_dict).
inline constexpr const char* kWqkvW = "visual.transformer.resblocks.{}.attn.Wqkv.weight";
inline constexpr const char* kWqkvB = "visual.transformer.resblocks.{}.attn.Wqkv.bias";
inline constexpr const char* kOutProjW = "visual.transformer.resblocks.{}.attn.out_proj.weight";
inline constexpr const char* kOutProjB = "visual.transformer.resblocks.{}.attn.out_proj.bias";
inline constexpr const char* kLn1W = "visual.transformer.resblocks.{}.ln_1.weight";
inline constexpr const char* kLn1B = "visual.transformer.resblocks.{}.ln_1.bias";
inline constexpr const char* kLn2W = "visual.transformer.resblocks.{}.ln_2.weight";
inline constexpr const char* kLn2B = "visual.transformer.resblocks.{}.ln_2.bias";
inline constexpr const char* kFcW = "visual.transformer.resblocks.{}.mlp.c_fc.weight";  // [mlp, w]
inline constexpr const char* kFcB = "visual.transformer.resblocks.{}.mlp.c_fc.bias";
inline constexpr const char* kMlpProjW = "visual.transformer.resblocks.{}.mlp.c_proj.weight";
inline constexpr const char* kMlpProjB = "visual.transformer.resblocks.{}.mlp.c_proj.bias";
inline constexpr const char* kTextProjection = "text_projection";  // [hidden, embed]
inline constexpr const char* kLogitScale = "logit_scale";          // []
inline constexpr const char* kBertPrefix = "bert.";                // + BERT names below
// Present only in the ModifiedResNet (RN50) image tower.
inline constexpr const char* kResNetMarker = "visual.attnpool.positional_embedding";
}  // namespace official

// ---- transformers ChineseCLIPModel ----
namespace hf_clip {
inline constexpr const char* kPatchEmbedding = "vision_model.embeddings.patch_embedding.weight";
inline constexpr const char* kClassEmbedding = "vision_model.embeddings.class_embedding";
inline constexpr const char* kPositionEmbedding = "vision_model.embeddings.position_embedding.weight";
inline constexpr const char* kPreLnW = "vision_model.pre_layrnorm.weight";  // sic
inline constexpr const char* kPreLnB = "vision_model.pre_layrnorm.bias";
inline constexpr const char* kPostLnW = "vision_model.post_layernorm.weight";
inline constexpr const char* kPostLnB = "vision_model.post_layernorm.bias";
inline constexpr const char* kLayerPrefix = "vision_model.encoder.layers.";  // + N + "."
inline constexpr const char* kQW = "vision_model.encoder.layers.{}.self_attn.q_proj.weight";
inline constexpr const char* kQB = "vision_model.encoder.layers.{}.self_attn.q_proj.bias";
inline constexpr const char* kKW = "vision_model.encoder.layers.{}.self_attn.k_proj.weight";
inline constexpr const char* kKB = "vision_model.encoder.layers.{}.self_attn.k_proj.bias";
inline constexpr const char* kVW = "vision_model.encoder.layers.{}.self_attn.v_proj.weight";
inline constexpr const char* kVB = "vision_model.encoder.layers.{}.self_attn.v_proj.bias";
inline constexpr const char* kOutW = "vision_model.encoder.layers.{}.self_attn.out_proj.weight";
inline constexpr const char* kOutB = "vision_model.encoder.layers.{}.self_attn.out_proj.bias";
inline constexpr const char* kLn1W = "vision_model.encoder.layers.{}.layer_norm1.weight";
inline constexpr const char* kLn1B = "vision_model.encoder.layers.{}.layer_norm1.bias";
inline constexpr const char* kLn2W = "vision_model.encoder.layers.{}.layer_norm2.weight";
inline constexpr const char* kLn2B = "vision_model.encoder.layers.{}.layer_norm2.bias";
inline constexpr const char* kFc1W = "vision_model.encoder.layers.{}.mlp.fc1.weight";
inline constexpr const char* kFc1B = "vision_model.encoder.layers.{}.mlp.fc1.bias";
inline constexpr const char* kFc2W = "vision_model.encoder.layers.{}.mlp.fc2.weight";
inline constexpr const char* kFc2B = "vision_model.encoder.layers.{}.mlp.fc2.bias";
inline constexpr const char* kVisualProjection = "visual_projection.weight";  // [embed, width]
inline constexpr const char* kTextProjection = "text_projection.weight";      // [embed, hidden]
inline constexpr const char* kLogitScale = "logit_scale";
inline constexpr const char* kTextPrefix = "text_model.";  // + BERT names below
}  // namespace hf_clip

// ---- BERT / RoBERTa / XLM-R encoder (HF BertModel names), after a prefix ----
namespace bert {
// Prefixes tried, in order, for standalone text models.
inline constexpr const char* kPrefixes[] = {"", "bert.", "roberta.", "model."};
inline constexpr const char* kWordEmbeddings = "embeddings.word_embeddings.weight";          // [vocab, h]
inline constexpr const char* kPositionEmbeddings = "embeddings.position_embeddings.weight";  // [max_pos, h]
inline constexpr const char* kTokenTypeEmbeddings = "embeddings.token_type_embeddings.weight";  // [types, h]
inline constexpr const char* kEmbLnW = "embeddings.LayerNorm.weight";
inline constexpr const char* kEmbLnB = "embeddings.LayerNorm.bias";
inline constexpr const char* kLayerPrefix = "encoder.layer.";  // + N + "."
inline constexpr const char* kQW = "encoder.layer.{}.attention.self.query.weight";
inline constexpr const char* kQB = "encoder.layer.{}.attention.self.query.bias";
inline constexpr const char* kKW = "encoder.layer.{}.attention.self.key.weight";
inline constexpr const char* kKB = "encoder.layer.{}.attention.self.key.bias";
inline constexpr const char* kVW = "encoder.layer.{}.attention.self.value.weight";
inline constexpr const char* kVB = "encoder.layer.{}.attention.self.value.bias";
// cn_clip FlashAttention checkpoints: q,k,v concatenated.
inline constexpr const char* kWqkvW = "encoder.layer.{}.attention.self.Wqkv.weight";
inline constexpr const char* kWqkvB = "encoder.layer.{}.attention.self.Wqkv.bias";
inline constexpr const char* kAttnOutW = "encoder.layer.{}.attention.output.dense.weight";
inline constexpr const char* kAttnOutB = "encoder.layer.{}.attention.output.dense.bias";
inline constexpr const char* kAttnLnW = "encoder.layer.{}.attention.output.LayerNorm.weight";
inline constexpr const char* kAttnLnB = "encoder.layer.{}.attention.output.LayerNorm.bias";
inline constexpr const char* kInterW = "encoder.layer.{}.intermediate.dense.weight";  // [inter, h]
inline constexpr const char* kInterB = "encoder.layer.{}.intermediate.dense.bias";
inline constexpr const char* kOutW = "encoder.layer.{}.output.dense.weight";  // [h, inter]
inline constexpr const char* kOutB = "encoder.layer.{}.output.dense.bias";
inline constexpr const char* kOutLnW = "encoder.layer.{}.output.LayerNorm.weight";
inline constexpr const char* kOutLnB = "encoder.layer.{}.output.LayerNorm.bias";
}  // namespace bert

}  // namespace sa::tn
