#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace sa::eval {
namespace {

// Inner product with a fixed summation order (8 interleaved partial sums, then a
// fixed tree), so the same pair of vectors always gives the same float and two
// identical gallery rows tie exactly, whatever their position. The compiler can
// vectorise the independent partial sums without reassociating anything.
float dot(const float* a, const float* b, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  }
  for (; i < n; ++i) acc[i % 8] += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// scores[j] = <q, gallery row j> for j < n.
void score_row(const float* q, const float* gallery, int n, int dim, float* scores) {
  for (int j = 0; j < n; ++j) scores[j] = dot(q, gallery + size_t(j) * dim, dim);
}

double percent(int hits, int total) { return total > 0 ? 100.0 * hits / total : 0.0; }

Status check_dims(int n_a, int n_b, int dim) {
  if (n_a < 0 || n_b < 0 || dim <= 0) return Status::InvalidArgument("negative count or empty embedding");
  return Status::OK();
}

}  // namespace

std::vector<int> top_k(const float* scores, int n, int k) {
  k = std::max(0, std::min(k, n));
  std::vector<int> idx(static_cast<size_t>(std::max(0, n)));
  std::iota(idx.begin(), idx.end(), 0);
  // Strict weak order "higher score first, then lower index": the same result as a
  // stable descending sort, and partial_sort needs nothing more.
  auto better = [scores](int a, int b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  };
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), better);
  idx.resize(static_cast<size_t>(k));
  return idx;
}

int rank_of(const float* scores, int n, int target) {
  int rank = 1;
  for (int j = 0; j < n; ++j) {
    if (scores[j] > scores[target] || (scores[j] == scores[target] && j < target)) ++rank;
  }
  return rank;
}

Result<RetrievalScores> retrieval_scores(const float* images, int n_images, const float* texts,
                                         int n_texts, int dim, const std::vector<int>& text_image) {
  SA_RETURN_IF_ERROR(check_dims(n_images, n_texts, dim));
  if (n_texts == 0 || n_images == 0) return Status::InvalidArgument("no captions or no images to evaluate");
  if (static_cast<int>(text_image.size()) != n_texts) {
    return Status::InvalidArgument("one image index per caption expected");
  }
  std::vector<std::vector<int>> captions_of(static_cast<size_t>(n_images));
  for (int t = 0; t < n_texts; ++t) {
    const int img = text_image[static_cast<size_t>(t)];
    if (img < 0 || img >= n_images) {
      return Status::InvalidArgument("caption " + std::to_string(t) + " names image " +
                                     std::to_string(img) + " of " + std::to_string(n_images));
    }
    captions_of[static_cast<size_t>(img)].push_back(t);
  }

  RetrievalScores out;
  out.n_images = n_images;
  out.n_texts = n_texts;

  // Text to image: each caption ranks the gallery; its one image is the answer.
  std::vector<float> scores(static_cast<size_t>(n_images));
  int h1 = 0, h5 = 0, h10 = 0;
  for (int t = 0; t < n_texts; ++t) {
    score_row(texts + size_t(t) * dim, images, n_images, dim, scores.data());
    const int r = rank_of(scores.data(), n_images, text_image[static_cast<size_t>(t)]);
    h1 += r <= 1;
    h5 += r <= 5;
    h10 += r <= 10;
  }
  out.text_to_image = {percent(h1, n_texts), percent(h5, n_texts), percent(h10, n_texts)};

  // Image to text: each captioned image ranks all captions; any of its own is a hit,
  // so the best-ranked of its captions decides.
  scores.assign(static_cast<size_t>(n_texts), 0.0f);
  h1 = h5 = h10 = 0;
  int queries = 0;
  for (int i = 0; i < n_images; ++i) {
    const auto& own = captions_of[static_cast<size_t>(i)];
    if (own.empty()) continue;
    ++queries;
    score_row(images + size_t(i) * dim, texts, n_texts, dim, scores.data());
    int best = n_texts + 1;
    for (int t : own) best = std::min(best, rank_of(scores.data(), n_texts, t));
    h1 += best <= 1;
    h5 += best <= 5;
    h10 += best <= 10;
  }
  out.n_image_queries = queries;
  out.image_to_text = {percent(h1, queries), percent(h5, queries), percent(h10, queries)};
  out.mean_recall = (out.text_to_image.mean() + out.image_to_text.mean()) / 2.0;
  return out;
}

Result<std::vector<float>> class_embeddings(const float* template_embeddings, int n_classes,
                                            int n_templates, int dim) {
  SA_RETURN_IF_ERROR(check_dims(n_classes, n_templates, dim));
  if (n_templates == 0) return Status::InvalidArgument("no templates");
  std::vector<float> out(size_t(n_classes) * dim, 0.0f);
  std::vector<double> mean(static_cast<size_t>(dim));
  for (int c = 0; c < n_classes; ++c) {
    std::fill(mean.begin(), mean.end(), 0.0);
    for (int t = 0; t < n_templates; ++t) {
      const float* e = template_embeddings + (size_t(c) * n_templates + t) * dim;
      double norm = 0;
      for (int j = 0; j < dim; ++j) norm += double(e[j]) * e[j];
      norm = std::sqrt(norm);
      if (norm == 0) continue;  // a zero embedding has no direction to contribute
      for (int j = 0; j < dim; ++j) mean[static_cast<size_t>(j)] += e[j] / norm;
    }
    double norm = 0;
    for (double v : mean) norm += v * v;
    norm = std::sqrt(norm);
    if (norm == 0) continue;
    float* row = out.data() + size_t(c) * dim;
    for (int j = 0; j < dim; ++j) row[j] = static_cast<float>(mean[static_cast<size_t>(j)] / norm);
  }
  return out;
}

Result<ZeroShotScores> zero_shot_scores(const float* images, int n_images, const float* classes,
                                        int n_classes, int dim, const std::vector<int>& truth) {
  SA_RETURN_IF_ERROR(check_dims(n_images, n_classes, dim));
  if (n_images == 0 || n_classes == 0) return Status::InvalidArgument("no images or no classes to evaluate");
  if (static_cast<int>(truth.size()) != n_images) {
    return Status::InvalidArgument("one class index per image expected");
  }
  std::vector<float> scores(static_cast<size_t>(n_classes));
  int h1 = 0, h5 = 0;
  for (int i = 0; i < n_images; ++i) {
    const int c = truth[static_cast<size_t>(i)];
    if (c < 0 || c >= n_classes) {
      return Status::InvalidArgument("image " + std::to_string(i) + " has class " + std::to_string(c) +
                                     ", but there are " + std::to_string(n_classes) + " classes");
    }
    score_row(images + size_t(i) * dim, classes, n_classes, dim, scores.data());
    const int r = rank_of(scores.data(), n_classes, c);
    h1 += r <= 1;
    h5 += r <= 5;
  }
  ZeroShotScores out;
  out.top1 = percent(h1, n_images);
  out.top5 = percent(h5, n_images);
  out.n_images = n_images;
  out.n_classes = n_classes;
  return out;
}

}  // namespace sa::eval
