// An independent reference for the eval tests: a literal transcription of what
// cn_clip/eval does, step by step (not the algorithm of eval/metrics.cpp):
// make_topk_predictions*.py build (id, score) pairs, sort them with Python's
// stable sorted(key=score, reverse=True) and keep 10; evaluation*.py count a query
// as a hit at k when any ground-truth id is among the first k predictions.
// Scores are computed in double (the tests keep clear of near-ties, and build exact
// ties from identical rows, which tie in any precision).
#pragma once

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>
#include <vector>

namespace sa::evaltest {

using Matrix = std::vector<std::vector<float>>;

inline double ref_dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

// The first k gallery ids for one query, as make_topk_predictions.py writes them.
inline std::vector<int> ref_topk(const std::vector<float>& q, const Matrix& gallery, size_t k) {
  std::vector<std::pair<int, double>> tuples;
  for (size_t j = 0; j < gallery.size(); ++j) tuples.emplace_back(static_cast<int>(j), ref_dot(q, gallery[j]));
  std::stable_sort(tuples.begin(), tuples.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<int> ids;
  for (size_t i = 0; i < std::min(k, tuples.size()); ++i) ids.push_back(tuples[i].first);
  return ids;
}

struct RefRecall {
  double r1 = 0, r5 = 0, r10 = 0;
};

// reference: query -> set of ground-truth ids; predictions: query -> top-10 ids.
inline RefRecall ref_score(const std::vector<std::set<int>>& reference,
                           const std::vector<std::vector<int>>& predictions) {
  int r1 = 0, r5 = 0, r10 = 0;
  for (size_t q = 0; q < reference.size(); ++q) {
    auto hit = [&](size_t k) {
      for (int gt : reference[q]) {
        const auto& p = predictions[q];
        if (std::find(p.begin(), p.begin() + std::min(k, p.size()), gt) != p.begin() + std::min(k, p.size())) {
          return true;
        }
      }
      return false;
    };
    r1 += hit(1);
    r5 += hit(5);
    r10 += hit(10);
  }
  const double n = static_cast<double>(reference.size());
  return {100.0 * r1 / n, 100.0 * r5 / n, 100.0 * r10 / n};
}

// Text-to-image and image-to-text as the two scripts + transform_ir_annotation_to_tr.py.
inline std::pair<RefRecall, RefRecall> ref_retrieval(const Matrix& images, const Matrix& texts,
                                                     const std::vector<int>& text_image) {
  std::vector<std::set<int>> t2i_ref;
  std::vector<std::vector<int>> t2i_pred;
  for (size_t t = 0; t < texts.size(); ++t) {
    t2i_ref.push_back({text_image[t]});
    t2i_pred.push_back(ref_topk(texts[t], images, 10));
  }
  // transform_ir_annotation_to_tr.py: image -> its text ids, only images with texts.
  std::vector<std::set<int>> i2t_ref;
  std::vector<std::vector<int>> i2t_pred;
  for (size_t i = 0; i < images.size(); ++i) {
    std::set<int> own;
    for (size_t t = 0; t < texts.size(); ++t) {
      if (text_image[t] == static_cast<int>(i)) own.insert(static_cast<int>(t));
    }
    if (own.empty()) continue;
    i2t_ref.push_back(own);
    i2t_pred.push_back(ref_topk(images[i], texts, 10));
  }
  return {ref_score(t2i_ref, t2i_pred), ref_score(i2t_ref, i2t_pred)};
}

inline std::vector<float> ref_normalized(const std::vector<float>& v) {
  double n = 0;
  for (float x : v) n += double(x) * x;
  n = std::sqrt(n);
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i] / n);
  return out;
}

// zeroshot_evaluation.py: per class, normalise each template row, mean, normalise;
// then top-k over classes (ties: lower class first, as the tests construct them).
inline std::pair<double, double> ref_zero_shot(const Matrix& images, const std::vector<Matrix>& class_templates,
                                               const std::vector<int>& truth) {
  Matrix classes;
  for (const Matrix& rows : class_templates) {
    std::vector<float> mean(rows[0].size(), 0.0f);
    for (const auto& r : rows) {
      const auto n = ref_normalized(r);
      for (size_t j = 0; j < n.size(); ++j) mean[j] += n[j] / static_cast<float>(rows.size());
    }
    classes.push_back(ref_normalized(mean));
  }
  int top1 = 0, top5 = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const auto pred = ref_topk(images[i], classes, 5);
    top1 += !pred.empty() && pred[0] == truth[i];
    top5 += std::find(pred.begin(), pred.end(), truth[i]) != pred.end();
  }
  return {100.0 * top1 / images.size(), 100.0 * top5 / images.size()};
}

}  // namespace sa::evaltest
