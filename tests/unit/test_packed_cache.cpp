// The packed-weight cache's files: what is written is read back byte for byte; a truncated,
// altered or foreign file is found, removed and never used; a writer that does not finish
// leaves nothing; concurrent writers of one entry leave one sound file; the folder is kept
// under its bound, least recently used entries first.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "core/error.h"
#include "io/packed_cache.h"
#include "test_support.h"

namespace sdxl::io {
namespace {

namespace fs = std::filesystem;

struct Layer {
  std::string name, layout;
  std::vector<std::vector<unsigned char>> parts;
};

std::vector<Layer> some_layers(uint32_t seed) {
  std::vector<Layer> layers;
  for (int i = 0; i < 5; ++i) {
    Layer layer{"down." + std::to_string(i) + ".weight", "linear onednn f32 " + std::to_string(i) + std::string(3, '\0') + "x", {}};
    for (size_t bytes : {size_t(5000 + 3 * i), size_t(64 * (i + 1))}) {
      std::vector<unsigned char> part(bytes);
      for (size_t b = 0; b < bytes; ++b) part[b] = static_cast<unsigned char>((b * 31 + seed * 7 + i) & 0xff);
      layer.parts.push_back(std::move(part));
    }
    layers.push_back(std::move(layer));
  }
  return layers;
}

void write_entry(const fs::path& file, const std::string& key, const std::vector<Layer>& layers) {
  PackedCacheWriter writer(file, key);
  for (const Layer& layer : layers) {
    PackedImage image{layer.layout, {}, nullptr};
    for (const auto& part : layer.parts) image.parts.push_back({part.data(), part.size()});
    writer.add(layer.name, image);
  }
  writer.commit();
}

void expect_holds(const PackedCacheEntry& entry, const std::vector<Layer>& layers) {
  EXPECT_EQ(entry.layers(), layers.size());
  for (const Layer& layer : layers) {
    const PackedImage* image = entry.find(layer.name);
    ASSERT_NE(image, nullptr) << layer.name;
    EXPECT_EQ(image->layout, layer.layout);
    ASSERT_EQ(image->parts.size(), layer.parts.size());
    for (size_t p = 0; p < layer.parts.size(); ++p) {
      ASSERT_EQ(image->parts[p].bytes, layer.parts[p].size());
      EXPECT_EQ(std::memcmp(image->parts[p].data, layer.parts[p].data(), layer.parts[p].size()), 0);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(image->parts[p].data) % 4096, 0u);  // page-aligned: any kernel's alignment
    }
    EXPECT_NE(image->owner, nullptr);
  }
  EXPECT_EQ(entry.find("up.0.weight"), nullptr);
}

size_t files_in(const fs::path& dir) {
  size_t n = 0;
  for (const auto& item : fs::directory_iterator(dir)) n += item.is_regular_file() ? 1 : 0;
  return n;
}

void flip_byte(const fs::path& file, uint64_t offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x10);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

TEST(PackedCache, WhatIsWrittenIsReadBackAndTheKeyDecidesTheName) {
  test::TempDir dir;
  const PackedCacheFolder folder(dir / "cache", uint64_t{1} << 30);
  const fs::path file = folder.entry_file("key A");
  EXPECT_EQ(file.parent_path(), dir / "cache");
  EXPECT_NE(folder.entry_file("key B"), file);
  EXPECT_EQ(PackedCacheEntry::open(file, "key A"), nullptr);  // none yet
  const auto layers = some_layers(1);
  write_entry(file, "key A", layers);
  EXPECT_EQ(files_in(dir / "cache"), 1u);  // no leftovers beside it
  const auto entry = PackedCacheEntry::open(file, "key A");
  ASSERT_NE(entry, nullptr);
  expect_holds(*entry, layers);
}

TEST(PackedCache, ATruncatedFileIsRemovedNotUsed) {
  test::TempDir dir;
  const fs::path file = dir / "entry.sdxlpack";
  for (uint64_t keep : {uint64_t{0}, uint64_t{10}, uint64_t{64}, uint64_t{4096}, uint64_t{20000}}) {
    write_entry(file, "k", some_layers(2));
    const uint64_t size = fs::file_size(file);
    fs::resize_file(file, std::min(keep, size - 1));
    EXPECT_EQ(PackedCacheEntry::open(file, "k"), nullptr) << keep;
    EXPECT_FALSE(fs::exists(file)) << keep;
  }
  // And one grown past its end.
  write_entry(file, "k", some_layers(2));
  fs::resize_file(file, fs::file_size(file) + 1);
  EXPECT_EQ(PackedCacheEntry::open(file, "k"), nullptr);
}

TEST(PackedCache, AnAlteredByteAnywhereIsFound) {
  test::TempDir dir;
  const fs::path file = dir / "entry.sdxlpack";
  write_entry(file, "k", some_layers(3));
  const uint64_t size = fs::file_size(file);
  // The header, the first part, a part in the middle, the last part's end, the index, the key.
  for (uint64_t offset : {uint64_t{0}, uint64_t{9}, uint64_t{60}, uint64_t{4096}, uint64_t{4096 + 4999}, uint64_t{3 * 4096 + 17},
                          size - 1, size - 40}) {
    write_entry(file, "k", some_layers(3));
    flip_byte(file, offset);
    EXPECT_EQ(PackedCacheEntry::open(file, "k"), nullptr) << "byte " << offset;
    EXPECT_FALSE(fs::exists(file));
  }
}

TEST(PackedCache, AnEntryOfAnotherKeyIsForeign) {
  // Another CPU, library or checkpoint gives another key, hence another name; a file under this
  // key's name made for another (copied from another machine, a hash collision) is never used.
  test::TempDir dir;
  const fs::path file = dir / "entry.sdxlpack";
  write_entry(file, "sdxl\ncpu: Other CPU\n", some_layers(4));
  EXPECT_EQ(PackedCacheEntry::open(file, "sdxl\ncpu: This CPU\n"), nullptr);
  EXPECT_FALSE(fs::exists(file));
  test::write_file(file, std::string(8192, 'x'));  // not one of ours at all
  EXPECT_EQ(PackedCacheEntry::open(file, "k"), nullptr);
}

TEST(PackedCache, AWriterThatDoesNotFinishLeavesNothing) {
  test::TempDir dir;
  const fs::path file = dir / "entry.sdxlpack";
  {
    PackedCacheWriter writer(file, "k");
    std::vector<unsigned char> bytes(10000, 7);
    writer.add("a", PackedImage{"layout", {{bytes.data(), bytes.size()}}, nullptr});
    EXPECT_EQ(files_in(dir.path()), 1u);  // its partial file, beside the entry's name
    EXPECT_FALSE(fs::exists(file));
  }
  EXPECT_EQ(files_in(dir.path()), 0u);
}

TEST(PackedCache, ConcurrentWritersOfOneEntryLeaveOneSoundFile) {
  test::TempDir dir;
  const fs::path file = dir / "entry.sdxlpack";
  const auto layers = some_layers(5);
  // Processes, as two sdxl commands started together would be.
  std::vector<pid_t> children;
  for (int i = 0; i < 4; ++i) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        for (int round = 0; round < 5; ++round) {
          write_entry(file, "k", layers);
          // A reader between writers sees no entry or a whole one, never a partial one.
          if (auto entry = PackedCacheEntry::open(file, "k"); !entry || entry->layers() != layers.size()) _exit(2);
        }
      } catch (...) {
        _exit(1);
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  EXPECT_EQ(files_in(dir.path()), 1u);
  const auto entry = PackedCacheEntry::open(file, "k");
  ASSERT_NE(entry, nullptr);
  expect_holds(*entry, layers);
}

TEST(PackedCache, TheFolderKeepsUnderItsBoundDroppingTheLeastRecentlyUsed) {
  test::TempDir dir;
  const auto layers = some_layers(6);
  PackedCacheFolder unbounded(dir / "c", uint64_t{1} << 40);
  std::vector<fs::path> files;
  for (int i = 0; i < 4; ++i) {
    files.push_back(unbounded.entry_file("key " + std::to_string(i)));
    write_entry(files.back(), "key " + std::to_string(i), layers);
    fs::last_write_time(files.back(), fs::file_time_type::clock::now() - std::chrono::minutes(10 - i));
  }
  PackedCacheFolder::touch(files[0]);  // used just now: the most recent
  const uint64_t one = fs::file_size(files[0]);
  test::write_file(dir / "c" / "notes.txt", "not ours");
  test::write_file(dir / "c" / (files[1].filename().string() + ".part-1-2"), "a writer that died");
  fs::last_write_time(dir / "c" / (files[1].filename().string() + ".part-1-2"),
                      fs::file_time_type::clock::now() - std::chrono::hours(2));
  test::write_file(dir / "c" / (files[2].filename().string() + ".part-3-4"), "a writer still at work");
  PackedCacheFolder(dir / "c", 2 * one + one / 2).trim(files[3]);
  EXPECT_TRUE(fs::exists(files[0]));   // recently used
  EXPECT_FALSE(fs::exists(files[1]));  // the two least recently used
  EXPECT_FALSE(fs::exists(files[2]));
  EXPECT_TRUE(fs::exists(files[3]));  // just written (kept even alone over the bound)
  EXPECT_TRUE(fs::exists(dir / "c" / "notes.txt"));
  EXPECT_FALSE(fs::exists(dir / "c" / (files[1].filename().string() + ".part-1-2")));
  EXPECT_TRUE(fs::exists(dir / "c" / (files[2].filename().string() + ".part-3-4")));
}

TEST(PackedCache, AFileIsKnownByPathSizeAndTime) {
  test::TempDir dir;
  test::write_file(dir / "my weights.safetensors", "abc");
  const std::string line = file_key_line(dir / "my weights.safetensors");
  EXPECT_NE(line.find((dir / "my weights.safetensors").string()), std::string::npos);
  EXPECT_EQ(line.back(), '\n');
  const std::string key = "sdxl\ncomponent: unet\n" + line + "precision: f32\n";
  EXPECT_FALSE(names_changed_files(key));
  fs::last_write_time(dir / "my weights.safetensors", fs::last_write_time(dir / "my weights.safetensors") + std::chrono::seconds(1));
  EXPECT_NE(file_key_line(dir / "my weights.safetensors"), line);
  EXPECT_TRUE(names_changed_files(key));
  fs::remove(dir / "my weights.safetensors");
  EXPECT_TRUE(names_changed_files(key));
  EXPECT_THROW(file_key_line(dir / "missing"), Error);
}

TEST(PackedCache, EntriesOfChangedOrRemovedCheckpointsAreTrimmed) {
  test::TempDir dir;
  test::write_file(dir / "a.safetensors", "a");
  test::write_file(dir / "b.safetensors", "b");
  PackedCacheFolder folder(dir / "c", uint64_t{1} << 40);
  const std::string key_a = "sdxl\n" + file_key_line(dir / "a.safetensors"), key_b = "sdxl\n" + file_key_line(dir / "b.safetensors");
  write_entry(folder.entry_file(key_a), key_a, some_layers(7));
  write_entry(folder.entry_file(key_b), key_b, some_layers(7));
  write_entry(folder.entry_file("no files"), "no files", some_layers(7));
  fs::remove(dir / "a.safetensors");
  folder.trim({});
  EXPECT_FALSE(fs::exists(folder.entry_file(key_a)));
  EXPECT_TRUE(fs::exists(folder.entry_file(key_b)));
  EXPECT_TRUE(fs::exists(folder.entry_file("no files")));
}

}  // namespace
}  // namespace sdxl::io
