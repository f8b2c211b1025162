/* The ringvm version: printed by --version, written into snapshots and
 * reported by the control API. */
#ifndef RINGVM_UTIL_VERSION_H
#define RINGVM_UTIL_VERSION_H

#define RINGVM_VERSION "0.2.0"

#endif
