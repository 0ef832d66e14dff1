// torch.save checkpoints (kind pickle_checkpoint): the tensors read from the zip archive are the
// twin safetensors file's, bit for bit; every hostile pickle is refused, naming what it tried.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "core/error.h"
#include "golden_cases.h"
#include "io/json_file.h"
#include "io/tensor_file.h"

namespace sdxl {
namespace {

using test::reference_dir;

TEST(PickleGolden, TensorsEqualTheirSafetensorsTwin) {
  SDXL_REQUIRE_REFERENCE();
  size_t checked = 0;
  for (const auto& c : test::cases_of_kind("pickle_checkpoint")) {
    if (c["params"]["expect"] != "tensors_equal") continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    const nlohmann::json expect = io::read_json_object(reference_dir() / c["file"].get<std::string>(), "case");
    const auto ckpt = io::open_tensor_file(reference_dir() / expect["ckpt"].get<std::string>());
    const auto twin = io::open_tensor_file(reference_dir() / expect["twin"].get<std::string>());
    const std::string filter = expect.value("twin_key_filter", "");
    std::set<std::string> want;
    for (const auto& r : twin->records())
      if (r.name.compare(0, filter.size(), filter) == 0) want.insert(r.name);
    std::set<std::string> got;
    for (const auto& r : ckpt->records()) {
      const std::string stored = r.name;
      const std::string name = expect["key_map"].is_object() ? expect["key_map"].value(stored, stored) : stored;
      got.insert(name);
      const io::TensorRecord* t = twin->find(name);
      ASSERT_NE(t, nullptr) << stored << " -> " << name;
      EXPECT_EQ(r.dtype, t->dtype) << name;
      EXPECT_EQ(r.shape, t->shape) << name;
      const auto& stored_info = expect["tensors"][stored];
      EXPECT_EQ(std::vector<int64_t>(r.shape.begin(), r.shape.end()), stored_info["shape"].get<std::vector<int64_t>>());
      const Tensor a = ckpt->tensor(r), b = twin->tensor(*t);
      ASSERT_EQ(a.nbytes(), b.nbytes());
      EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0) << name << " differs";
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(got.size(), expect["tensors"].size());
    ++checked;
  }
  EXPECT_GE(checked, 3u);
}

TEST(PickleGolden, HostileFilesAreRefusedNamingWhatTheyTry) {
  SDXL_REQUIRE_REFERENCE();
  const std::set<std::string> allowed = {"collections.OrderedDict", "torch.FloatStorage", "torch.HalfStorage",
                                         "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter"};
  size_t refused = 0;
  for (const auto& c : test::cases_of_kind("pickle_checkpoint")) {
    if (c["params"]["expect"] != "refuse") continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto path = reference_dir() / c["params"]["ckpt"].get<std::string>();
    std::string message;
    try {
      io::open_tensor_file(path);
      ADD_FAILURE() << "opened";
    } catch (const Error& e) {
      message = e.what();
      EXPECT_EQ(e.code(), ErrorCode::Unsupported) << message;
    }
    EXPECT_NE(message.find("refused"), std::string::npos) << message;
    EXPECT_NE(message.find("nothing in the file was run"), std::string::npos) << message;
    // The first global outside the allow-list is named (INST names its opcode: it calls without REDUCE).
    bool named = message.find("the opcode INST") != std::string::npos;
    for (const auto& g : c["params"]["pickle_globals"])
      if (!allowed.count(g.get<std::string>())) named = named || message.find("'" + g.get<std::string>() + "'") != std::string::npos;
    EXPECT_TRUE(named) << message;
    ++refused;
  }
  EXPECT_GE(refused, 7u);
}

}  // namespace
}  // namespace sdxl
