// Retrieval recall and zero-shot accuracy over embedding matrices, counted the
// way Chinese-CLIP's evaluation scripts count them (cn_clip/eval/):
//
// - A query's ranking is the gallery sorted by inner product, descending; equal
//   scores keep gallery order (make_topk_predictions*.py sort the (id, score)
//   pairs with Python's stable sorted(..., reverse=True)), and the first 10 are kept.
// - Text-to-image (evaluation.py): every caption is a query; a hit at k is its image
//   among the first k. Image-to-text (evaluation_tr.py after
//   transform_ir_annotation_to_tr.py): every image with at least one caption is a
//   query; a hit at k is ANY of its captions among the first k texts.
//   R@k = hits / queries; a direction's mean recall is (R@1 + R@5 + R@10) / 3.
// - Zero-shot (zeroshot_evaluation.py): a class embedding is the mean of its
//   L2-normalised template embeddings, renormalised; an image is right at k when its
//   class is among the k highest-scoring classes (equal scores: lower class first).
//
// Pure compute: row-major float buffers ("component j of row i is x[i*dim+j]"),
// no I/O. All percentages are in [0, 100]. Thread-safe (no shared state).
#pragma once

#include <vector>

#include "core/status.h"

namespace sa::eval {

inline constexpr int kTopK = 10;  // the evaluation keeps 10 predictions per query

struct RecallAtK {
  double r1 = 0, r5 = 0, r10 = 0;  // percent
  double mean() const { return (r1 + r5 + r10) / 3.0; }
};

struct RetrievalScores {
  RecallAtK text_to_image;
  RecallAtK image_to_text;
  // The mean of all six recalls: the "MR" of Chinese-CLIP's Flickr30K-CN / COCO-CN
  // tables (the mean of the two directions' mean recalls).
  double mean_recall = 0;
  int n_images = 0;  // gallery size
  int n_texts = 0;   // captions (text-to-image queries)
  int n_image_queries = 0;  // images with at least one caption
};

struct ZeroShotScores {
  double top1 = 0, top5 = 0;  // percent
  int n_images = 0;
  int n_classes = 0;
};

// Indices of the k highest scores[0..n), best first; equal scores in index order
// (what a stable descending sort gives). Returns min(k, n) indices.
std::vector<int> top_k(const float* scores, int n, int k);

// The 1-based rank that top_k would give item `target` in a ranking of n
// scores: 1 + #(higher scores) + #(equal scores at a lower index).
int rank_of(const float* scores, int n, int target);

// images: [n_images, dim]; texts: [n_texts, dim]; both L2-normalised by the caller
// (the score is the plain inner product, as in the scripts). text_image[t] is the
// gallery index of caption t's image. InvalidArgument for inconsistent sizes, an
// image index out of range, or no captions.
Result<RetrievalScores> retrieval_scores(const float* images, int n_images, const float* texts,
                                         int n_texts, int dim, const std::vector<int>& text_image);

// template_embeddings: [n_classes * n_templates, dim], class-major (row c*n_templates+t
// is template t filled with class c), raw or normalised. Returns [n_classes, dim]:
// per class, each row L2-normalised, averaged, and the mean L2-normalised.
Result<std::vector<float>> class_embeddings(const float* template_embeddings, int n_classes,
                                            int n_templates, int dim);

// images: [n_images, dim] L2-normalised; classes: [n_classes, dim] (class_embeddings);
// truth[i]: image i's class index. InvalidArgument for a class out of range or no images.
Result<ZeroShotScores> zero_shot_scores(const float* images, int n_images, const float* classes,
                                        int n_classes, int dim, const std::vector<int>& truth);

}  // namespace sa::eval
