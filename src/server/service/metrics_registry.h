// Prometheus's data model and its text exposition format (0.0.4): counters and histograms that
// live as long as the process, with label values, and the gauges a scrape reads at that moment.
// Knows nothing of sdxl: server/service/service_metrics.h names the families.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace sdxl::server::metrics {

using LabelValues = std::vector<std::string>;  // in the order of the family's label names
using Labels = std::vector<std::pair<std::string, std::string>>;

// The text of one scrape, family by family (each family's samples together, as the format asks).
class Exposition {
 public:
  // `type`: "counter", "gauge", "histogram". HELP text and label values are escaped here.
  void family(const std::string& name, const std::string& help, const std::string& type);
  void sample(const std::string& name, const Labels& labels, double value);
  // A gauge family of one sample.
  void gauge(const std::string& name, const std::string& help, double value, const Labels& labels = {});
  void append(const Exposition& other) { text_ += other.text_; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// A monotonically growing count per label set (the name ends in _total, as promtool asks).
class Counter {
 public:
  Counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  void add(const LabelValues& values = {}, double amount = 1);
  double value(const LabelValues& values = {}) const;
  void write(Exposition& out) const;

 private:
  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  mutable std::mutex mutex_;
  std::map<LabelValues, double> values_;
};

// Observations counted into cumulative buckets (upper bounds, ascending), with their sum.
class Histogram {
 public:
  Histogram(std::string name, std::string help, std::vector<double> bounds, std::vector<std::string> label_names = {});
  void observe(double value, const LabelValues& values = {});
  void write(Exposition& out) const;

 private:
  struct Series {
    std::vector<double> counts;  // per bucket, not cumulative; the last is +Inf's
    double sum = 0;
  };
  const std::string name_, help_;
  const std::vector<double> bounds_;
  const std::vector<std::string> label_names_;
  mutable std::mutex mutex_;
  std::map<LabelValues, Series> series_;
};

// Bounds growing by `factor` from `start`: `count` of them.
std::vector<double> exponential_bounds(double start, double factor, int count);

}  // namespace sdxl::server::metrics
