#include "server/service/metrics_registry.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace sdxl::server::metrics {
namespace {

// Backslash and newline in HELP; those and the double quote in label values.
std::string escaped(const std::string& s, bool quote) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote) out += "\\\"";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.12g", v);
  return buffer;
}

Labels labelled(const std::vector<std::string>& names, const LabelValues& values) {
  Labels labels;
  for (size_t i = 0; i < names.size(); ++i) labels.emplace_back(names[i], values[i]);
  return labels;
}

void check_arity(const std::string& name, const std::vector<std::string>& names, const LabelValues& values) {
  if (names.size() != values.size())
    throw std::logic_error("metric " + name + " takes " + std::to_string(names.size()) + " label values, got " +
                           std::to_string(values.size()));
}

}  // namespace

void Exposition::family(const std::string& name, const std::string& help, const std::string& type) {
  text_ += "# HELP " + name + " " + escaped(help, false) + "\n# TYPE " + name + " " + type + "\n";
}

void Exposition::sample(const std::string& name, const Labels& labels, double value) {
  text_ += name;
  if (!labels.empty()) {
    text_ += '{';
    for (size_t i = 0; i < labels.size(); ++i)
      text_ += (i ? "," : "") + labels[i].first + "=\"" + escaped(labels[i].second, true) + "\"";
    text_ += '}';
  }
  text_ += " " + number(value) + "\n";
}

void Exposition::gauge(const std::string& name, const std::string& help, double value, const Labels& labels) {
  family(name, help, "gauge");
  sample(name, labels, value);
}

Counter::Counter(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

void Counter::add(const LabelValues& values, double amount) {
  check_arity(name_, label_names_, values);
  std::lock_guard<std::mutex> lock(mutex_);
  values_[values] += amount;
}

double Counter::value(const LabelValues& values) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = values_.find(values);
  return it == values_.end() ? 0.0 : it->second;
}

void Counter::write(Exposition& out) const {
  out.family(name_, help_, "counter");
  std::lock_guard<std::mutex> lock(mutex_);
  // A counter without labels is 0 before its first event (a series that appears later would
  // read as a reset to rate()).
  if (values_.empty() && label_names_.empty()) out.sample(name_, {}, 0);
  for (const auto& [values, v] : values_) out.sample(name_, labelled(label_names_, values), v);
}

Histogram::Histogram(std::string name, std::string help, std::vector<double> bounds, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), bounds_(std::move(bounds)), label_names_(std::move(label_names)) {}

void Histogram::observe(double value, const LabelValues& values) {
  check_arity(name_, label_names_, values);
  std::lock_guard<std::mutex> lock(mutex_);
  Series& s = series_[values];
  if (s.counts.empty()) s.counts.assign(bounds_.size() + 1, 0.0);
  size_t bucket = 0;
  while (bucket < bounds_.size() && value > bounds_[bucket]) ++bucket;
  s.counts[bucket] += 1;
  s.sum += value;
}

void Histogram::write(Exposition& out) const {
  out.family(name_, help_, "histogram");
  std::lock_guard<std::mutex> lock(mutex_);
  auto write_series = [&](const LabelValues& values, const Series* s) {
    double cumulative = 0;
    for (size_t b = 0; b <= bounds_.size(); ++b) {
      if (s) cumulative += s->counts[b];
      Labels labels = labelled(label_names_, values);
      labels.emplace_back("le", b < bounds_.size() ? number(bounds_[b]) : "+Inf");
      out.sample(name_ + "_bucket", labels, cumulative);
    }
    out.sample(name_ + "_sum", labelled(label_names_, values), s ? s->sum : 0.0);
    out.sample(name_ + "_count", labelled(label_names_, values), cumulative);
  };
  if (series_.empty() && label_names_.empty()) write_series({}, nullptr);
  for (const auto& [values, s] : series_) write_series(values, &s);
}

std::vector<double> exponential_bounds(double start, double factor, int count) {
  std::vector<double> bounds;
  for (int i = 0; i < count; ++i) bounds.push_back(start * std::pow(factor, i));
  return bounds;
}

}  // namespace sdxl::server::metrics
