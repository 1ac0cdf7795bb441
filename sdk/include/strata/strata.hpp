// Umbrella header: everything a host application normally needs.
#pragma once

#include "strata/config.hpp"
#include "strata/custom_objects.hpp"
#include "strata/device.hpp"
#include "strata/dtype.hpp"
#include "strata/error.hpp"
#include "strata/log.hpp"
#include "strata/plugins.hpp"
#include "strata/registry.hpp"
#include "strata/runtime.hpp"
#include "strata/shape.hpp"
#include "strata/tensor.hpp"
#include "strata/variable.hpp"
#include "strata/version.hpp"
