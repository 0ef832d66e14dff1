#include "imaging/control_image.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace sdxl::imaging {
namespace {

using io::Image8;

cv::Mat as_mat(const Image8& image) {
  return cv::Mat(static_cast<int>(image.height), static_cast<int>(image.width),
                 CV_8UC(static_cast<int>(image.channels)), const_cast<uint8_t*>(image.pixels.data()));
}

Image8 from_mat(const cv::Mat& mat) {
  Image8 out;
  out.width = mat.cols;
  out.height = mat.rows;
  out.channels = mat.channels();
  out.pixels.resize(static_cast<size_t>(out.width * out.height * out.channels));
  cv::Mat dst(mat.rows, mat.cols, mat.type(), out.pixels.data());
  mat.copyTo(dst);
  return out;
}

// numpy's round: halves to even.
int64_t np_round(double x) { return static_cast<int64_t>(std::nearbyint(x)); }

int64_t pad64(int64_t x) { return static_cast<int64_t>(std::ceil(static_cast<double>(x) / 64.0) * 64.0) - x; }

size_t unique_colors(const cv::Mat& rgb) {
  std::vector<bool> seen(1u << 24, false);
  size_t count = 0;
  for (int y = 0; y < rgb.rows; ++y) {
    const uint8_t* row = rgb.ptr<uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x) {
      const uint32_t key = (uint32_t{row[3 * x]} << 16) | (uint32_t{row[3 * x + 1]} << 8) | row[3 * x + 2];
      if (!seen[key]) {
        seen[key] = true;
        ++count;
      }
    }
  }
  return count;
}

cv::Mat kernel3(const std::array<int, 9>& values) {
  cv::Mat k(3, 3, CV_32S);
  for (int i = 0; i < 9; ++i) k.at<int>(i / 3, i % 3) = values[static_cast<size_t>(i)];
  return k;
}

// np.rot90(k, n): n quarter turns counter-clockwise.
cv::Mat rotated(const cv::Mat& k, int turns) {
  cv::Mat out = k.clone();
  for (int t = 0; t < turns; ++t) {
    cv::Mat next(3, 3, CV_32S);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) next.at<int>(i, j) = out.at<int>(j, 2 - i);
    out = next;
  }
  return out;
}

// The extension's lvminthin kernels: each raw pair at 0, 1, 2, 3 quarter turns.
std::vector<cv::Mat> turned(const std::array<int, 9>& a, const std::array<int, 9>& b) {
  std::vector<cv::Mat> out;
  for (int turns = 0; turns < 4; ++turns) {
    out.push_back(rotated(kernel3(a), turns));
    out.push_back(rotated(kernel3(b), turns));
  }
  return out;
}

// One pass of every kernel: pixels its hit-or-miss marks (> 127) set to 0. True when any was.
bool thin_once(cv::Mat& x, const std::vector<cv::Mat>& kernels) {
  bool changed = false;
  for (const auto& k : kernels) {
    cv::Mat hits;
    cv::morphologyEx(x, hits, cv::MORPH_HITMISS, k);
    const cv::Mat marked = hits > 127;
    if (cv::countNonZero(marked) > 0) changed = true;
    x.setTo(0, marked);
  }
  return changed;
}

void lvmin_thin(cv::Mat& x, bool prunings) {
  static const std::vector<cv::Mat> kernels = turned({-1, -1, -1, 0, 1, 0, 1, 1, 1}, {0, -1, -1, 1, 1, -1, 0, 1, 0});
  static const std::vector<cv::Mat> prunes = turned({-1, -1, -1, -1, 1, -1, 0, 0, -1}, {-1, -1, -1, -1, 1, -1, -1, 0, 0});
  for (int i = 0; i < 32; ++i)
    if (!thin_once(x, kernels)) break;
  if (prunings) thin_once(x, prunes);
}

// nake_nms: a pixel is kept where it is the maximum along one of the four directions.
cv::Mat nake_nms(const cv::Mat& x) {
  cv::Mat y = cv::Mat::zeros(x.size(), x.type());
  const std::array<std::array<uint8_t, 9>, 4> filters{{{0, 0, 0, 1, 1, 1, 0, 0, 0},
                                                       {0, 1, 0, 0, 1, 0, 0, 1, 0},
                                                       {1, 0, 0, 0, 1, 0, 0, 0, 1},
                                                       {0, 0, 1, 0, 1, 0, 1, 0, 0}}};
  for (const auto& f : filters) {
    cv::Mat k(3, 3, CV_8U);
    for (int i = 0; i < 9; ++i) k.at<uint8_t>(i / 3, i % 3) = f[static_cast<size_t>(i)];
    cv::Mat dilated;
    cv::dilate(x, dilated, k);
    x.copyTo(y, dilated == x);
  }
  return y;
}

// detectmap_proc's high_quality_resize for an RGB map.
cv::Mat high_quality_resize(const cv::Mat& x, int width, int height) {
  if (x.rows == height && x.cols == width) return x.clone();
  const int64_t new_area = int64_t{width} * height, old_area = int64_t{x.rows} * x.cols;
  const bool smaller = new_area < old_area, bigger = new_area > old_area;
  const size_t colors = unique_colors(x);
  bool binary = false, one_pixel_edge = false;
  if (colors == 2) {
    double lo = 0, hi = 0;
    cv::minMaxLoc(x.reshape(1), &lo, &hi);
    binary = lo < 16 && hi > 240;
    if (binary) {
      const cv::Mat ones = cv::Mat::ones(3, 3, CV_8U);
      cv::Mat opened;
      cv::erode(x, opened, ones);
      cv::dilate(opened, opened, ones);
      const int64_t thinned = cv::countNonZero(cv::Mat(opened < x).reshape(1));
      const int64_t edges = cv::countNonZero(cv::Mat(x > 127).reshape(1));
      one_pixel_edge = thinned * 2 > edges;
    }
  }
  const int interpolation = colors > 2 && colors < 200 ? cv::INTER_NEAREST : smaller ? cv::INTER_AREA : cv::INTER_CUBIC;
  cv::Mat y;
  cv::resize(x, y, cv::Size(width, height), 0, 0, interpolation);
  if (!binary) return y;
  // np.mean(axis=2) in float32, clipped, truncated to uint8.
  cv::Mat gray(y.rows, y.cols, CV_8U);
  for (int r = 0; r < y.rows; ++r) {
    const uint8_t* in = y.ptr<uint8_t>(r);
    uint8_t* out = gray.ptr<uint8_t>(r);
    for (int c = 0; c < y.cols; ++c) {
      const float mean = (static_cast<float>(in[3 * c]) + static_cast<float>(in[3 * c + 1]) + static_cast<float>(in[3 * c + 2])) / 3.0f;
      out[c] = static_cast<uint8_t>(std::clamp(mean, 0.0f, 255.0f));
    }
  }
  if (one_pixel_edge) {
    gray = nake_nms(gray);
    cv::threshold(gray, gray, 0, 255, cv::THRESH_BINARY + cv::THRESH_OTSU);
    lvmin_thin(gray, bigger);
  } else {
    cv::threshold(gray, gray, 0, 255, cv::THRESH_BINARY + cv::THRESH_OTSU);
  }
  cv::Mat rgb;
  cv::cvtColor(gray, rgb, cv::COLOR_GRAY2RGB);
  return rgb;
}

// The median of each channel over the map's four borders, truncated to uint8 (np.median then astype).
cv::Vec3b border_median(const cv::Mat& x) {
  cv::Vec3b out;
  for (int ch = 0; ch < 3; ++ch) {
    std::vector<uint8_t> v;
    for (int c = 0; c < x.cols; ++c) v.push_back(x.at<cv::Vec3b>(0, c)[ch]);
    for (int c = 0; c < x.cols; ++c) v.push_back(x.at<cv::Vec3b>(x.rows - 1, c)[ch]);
    for (int r = 0; r < x.rows; ++r) v.push_back(x.at<cv::Vec3b>(r, 0)[ch]);
    for (int r = 0; r < x.rows; ++r) v.push_back(x.at<cv::Vec3b>(r, x.cols - 1)[ch]);
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    const double median = n % 2 ? v[n / 2] : (static_cast<double>(v[n / 2 - 1]) + v[n / 2]) / 2.0;
    out[ch] = static_cast<uint8_t>(median);
  }
  return out;
}

}  // namespace

ControlResizeMode parse_control_resize_mode(const std::string& name) {
  if (name == "Just Resize" || name == "0" || name == "just" || name == "resize") return ControlResizeMode::JustResize;
  if (name == "Crop and Resize" || name == "Inner Fit (Scale to Fit)" || name == "1" || name == "crop")
    return ControlResizeMode::CropAndResize;
  if (name == "Resize and Fill" || name == "Outer Fit (Shrink to Fit)" || name == "2" || name == "fill")
    return ControlResizeMode::ResizeAndFill;
  fail(ErrorCode::InvalidArgument, "resize mode '", name,
       "' is not one of Just Resize (0, just), Crop and Resize (1, crop), Resize and Fill (2, fill)");
}

const char* control_resize_mode_name(ControlResizeMode mode) {
  switch (mode) {
    case ControlResizeMode::JustResize: return "Just Resize";
    case ControlResizeMode::CropAndResize: return "Crop and Resize";
    case ControlResizeMode::ResizeAndFill: return "Resize and Fill";
  }
  return "Just Resize";
}

Image8 hwc3(const Image8& image) {
  if (image.channels == 3) return image;
  Image8 out;
  out.width = image.width;
  out.height = image.height;
  out.channels = 3;
  out.pixels.resize(static_cast<size_t>(image.width * image.height * 3));
  const int64_t n = image.width * image.height;
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* in = &image.pixels[static_cast<size_t>(i * image.channels)];
    uint8_t* o = &out.pixels[static_cast<size_t>(3 * i)];
    if (image.channels == 1) {
      o[0] = o[1] = o[2] = in[0];
    } else {
      const float alpha = static_cast<float>(in[3]) / 255.0f;
      for (int c = 0; c < 3; ++c) {
        const float v = static_cast<float>(in[c]) * alpha + 255.0f * (1.0f - alpha);
        o[c] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
      }
    }
  }
  return out;
}

Image8 control_input_rgb(const Image8& image) {
  SDXL_CHECK(image.channels == 1 || image.channels == 3 || image.channels == 4, InvalidArgument,
             "a control image must be gray, RGB or RGBA, got ", image.channels, " channels");
  if (image.channels != 4) return hwc3(image);
  bool all_clear = true, all_opaque = true;
  for (size_t i = 3; i < image.pixels.size(); i += 4) {
    all_clear = all_clear && image.pixels[i] <= 5;
    all_opaque = all_opaque && image.pixels[i] >= 250;
  }
  Image8 out;
  out.width = image.width;
  out.height = image.height;
  out.channels = 3;
  out.pixels.resize(static_cast<size_t>(image.width * image.height * 3));
  const bool rgb = all_clear || all_opaque;
  for (int64_t i = 0; i < image.width * image.height; ++i)
    for (int c = 0; c < 3; ++c)
      out.pixels[static_cast<size_t>(3 * i + c)] = image.pixels[static_cast<size_t>(4 * i + (rgb ? c : 3))];
  return out;
}

int64_t pixel_perfect_resolution(const Image8& image, int64_t width, int64_t height, ControlResizeMode mode) {
  const double k0 = static_cast<double>(height) / static_cast<double>(image.height);
  const double k1 = static_cast<double>(width) / static_cast<double>(image.width);
  const double k = mode == ControlResizeMode::ResizeAndFill ? std::min(k0, k1) : std::max(k0, k1);
  return np_round(k * static_cast<double>(std::min(image.height, image.width)));
}

Image8 canny_map(const Image8& image, int64_t resolution, double low, double high) {
  const Image8 rgb = hwc3(image);
  SDXL_CHECK(resolution > 0 && resolution <= io::kMaxImageSide, InvalidArgument, "canny: the resolution ", resolution,
             " must be in [1, ", io::kMaxImageSide, "]");
  SDXL_CHECK(std::isfinite(low) && std::isfinite(high) && low >= 0 && high >= 0 && low <= 100000 && high <= 100000,
             InvalidArgument, "canny: the thresholds ", low, ", ", high, " must be non-negative numbers");
  const double k = static_cast<double>(resolution) / static_cast<double>(std::min(rgb.height, rgb.width));
  const int target_h = static_cast<int>(np_round(static_cast<double>(rgb.height) * k));
  const int target_w = static_cast<int>(np_round(static_cast<double>(rgb.width) * k));
  SDXL_CHECK(target_h > 0 && target_w > 0 && target_h <= io::kMaxImageSide && target_w <= io::kMaxImageSide,
             InvalidArgument, "canny: resolution ", resolution, " makes a ", target_w, "x", target_h, " working image");
  cv::Mat resized;
  cv::resize(as_mat(rgb), resized, cv::Size(target_w, target_h), 0, 0, k > 1 ? cv::INTER_CUBIC : cv::INTER_AREA);
  cv::Mat padded;
  cv::copyMakeBorder(resized, padded, 0, static_cast<int>(pad64(target_h)), 0, static_cast<int>(pad64(target_w)),
                     cv::BORDER_REPLICATE);
  cv::Mat edges;
  cv::Canny(padded, edges, static_cast<double>(static_cast<int64_t>(low)), static_cast<double>(static_cast<int64_t>(high)));
  cv::Mat rgb_edges;
  cv::cvtColor(edges(cv::Rect(0, 0, target_w, target_h)), rgb_edges, cv::COLOR_GRAY2RGB);
  return from_mat(rgb_edges);
}

Image8 fit_control_map(const Image8& map, ControlResizeMode mode, int64_t width, int64_t height) {
  const Image8 rgb = hwc3(map);
  const cv::Mat x = as_mat(rgb);
  const int w = static_cast<int>(width), h = static_cast<int>(height);
  if (mode == ControlResizeMode::JustResize) return from_mat(high_quality_resize(x, w, h));
  const double k0 = static_cast<double>(h) / x.rows, k1 = static_cast<double>(w) / x.cols;
  if (mode == ControlResizeMode::ResizeAndFill) {
    const double k = std::min(k0, k1);
    const cv::Vec3b border = border_median(x);
    cv::Mat background(h, w, CV_8UC3, cv::Scalar(border[0], border[1], border[2]));
    const cv::Mat fitted = high_quality_resize(x, static_cast<int>(np_round(x.cols * k)), static_cast<int>(np_round(x.rows * k)));
    const int pad_h = std::max(0, (h - fitted.rows) / 2), pad_w = std::max(0, (w - fitted.cols) / 2);
    const cv::Rect into(pad_w, pad_h, std::min(fitted.cols, w - pad_w), std::min(fitted.rows, h - pad_h));
    fitted(cv::Rect(0, 0, into.width, into.height)).copyTo(background(into));
    return from_mat(background);
  }
  const double k = std::max(k0, k1);
  const cv::Mat covered = high_quality_resize(x, static_cast<int>(np_round(x.cols * k)), static_cast<int>(np_round(x.rows * k)));
  const int pad_h = std::max(0, (covered.rows - h) / 2), pad_w = std::max(0, (covered.cols - w) / 2);
  SDXL_CHECK(covered.rows - pad_h >= h && covered.cols - pad_w >= w, Internal, "crop and resize: ", covered.cols, "x",
             covered.rows, " does not cover ", w, "x", h);
  return from_mat(covered(cv::Rect(pad_w, pad_h, w, h)));
}

}  // namespace sdxl::imaging
