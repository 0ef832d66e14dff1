// What an engine accepts, as facts another process can check requests against: a front end that
// loads no model (`sdxl serve --queue`) checks each request the way the worker's engine will, so
// a request that cannot run there is refused before it waits in the queue.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/request/engine_request.h"
#include "pipeline/request/request_limits.h"

namespace sdxl::pipeline {

struct EngineCapacity {
  std::string model;  // for messages
  int64_t vae_scale = 8;
  bool has_refiner = false, is_refiner = false, one_shot = false;
  ModelFootprint base, refiner;
  double available_gib = -1;  // the engine's machine, when the capacity was taken; -1: unknown
};

nlohmann::json to_json(const EngineCapacity& capacity);
// Throws Format naming what is missing or wrong.
EngineCapacity capacity_from_json(const nlohmann::json& json);

// What `request` would need on an engine of `capacity`, beyond what it holds resident.
MemoryEstimate estimate_memory(const EngineCapacity& capacity, const EngineRequest& request);
// Every check Engine::check makes that needs neither the models nor the LoRA folder: the refiner
// settings, the request limits, the memory estimate. Throws the first problem.
// `lora_gib`: the LoRA files the request names (they are read while they are applied).
void check_request(const EngineCapacity& capacity, const EngineRequest& request, double lora_gib = 0);

}  // namespace sdxl::pipeline
