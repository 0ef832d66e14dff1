// The packed-weight cache's files: a model's layers as its kernels want them (packed, blocked,
// converted), written at the first load of a checkpoint at a precision on a machine and mapped
// by later loads, which then neither read nor pack those weights.
//
// One file per entry, named by a hash of its key (the text of everything the packing depends
// on: the checkpoint's identity, its config, the precision, the LoRAs merged at load, the CPU and
// the libraries). A file is written beside its final name and renamed into place when complete,
// so processes filling the same entry at once never see each other's partial file; it carries
// its full key and a checksum of every byte it holds, so a truncated, altered or foreign file is
// found before it is used, removed, and made again.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/op_types.h"
#include "io/mapped_file.h"

namespace sdxl::io {

// The line of a cache key naming a file the entry was made from: its size, modification time
// (nanoseconds), inode and absolute path, so a file replaced or changed in place gives another
// key. Throws Io when it cannot be read.
std::string file_key_line(const std::filesystem::path& path);
// Whether `key` names a file (by such lines) that has changed or gone since: its entry can never
// be found again.
bool names_changed_files(const std::string& key);

// A complete, verified entry, mapped read-only: its layers' bytes by name.
class PackedCacheEntry {
 public:
  // The entry at `file` if it exists and is sound for `key`; null when there is none. A file
  // that is partial, damaged, of another format or another key is removed (logged) and null returned.
  static std::shared_ptr<const PackedCacheEntry> open(const std::filesystem::path& file, const std::string& key);
  // The layer first bound by the parameter `name` (owner: this entry's mapping), or null.
  const PackedImage* find(const std::string& name) const;
  const std::unordered_map<std::string, PackedImage>& images() const { return images_; }
  size_t layers() const { return images_.size(); }
  uint64_t bytes() const { return file_->size(); }

 private:
  std::shared_ptr<MappedFile> file_;
  std::unordered_map<std::string, PackedImage> images_;
};

// Writes an entry beside `file` and puts it in place on commit(); a writer dropped without
// commit() removes what it wrote. Throws Io naming the file when it cannot write.
class PackedCacheWriter {
 public:
  PackedCacheWriter(std::filesystem::path file, std::string key);
  ~PackedCacheWriter();
  PackedCacheWriter(const PackedCacheWriter&) = delete;
  PackedCacheWriter& operator=(const PackedCacheWriter&) = delete;

  void add(const std::string& name, const PackedImage& image);
  void commit();

 private:
  struct Record {
    std::string name, layout;
    std::vector<uint64_t> offsets, sizes, checksums;
  };
  void write_at(uint64_t offset, const void* data, size_t bytes);
  std::filesystem::path file_, temporary_;
  std::string key_;
  int fd_ = -1;
  uint64_t end_ = 0;
  std::vector<Record> records_;
  bool committed_ = false;
};

// A cache folder: entries' file names, and the bound on their total size.
class PackedCacheFolder {
 public:
  PackedCacheFolder(std::filesystem::path dir, uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path entry_file(const std::string& key) const;  // creates the folder
  // Removes entries made from files that have changed or gone since, then the least recently
  // used ones until the folder holds at most max_bytes (never `keep`), and writers' leftovers
  // older than an hour (a process that died while writing).
  void trim(const std::filesystem::path& keep) const;
  // Marks `file` as just used (its modification time), for trim()'s order.
  static void touch(const std::filesystem::path& file);

 private:
  std::filesystem::path dir_;
  uint64_t max_bytes_;
};

}  // namespace sdxl::io
