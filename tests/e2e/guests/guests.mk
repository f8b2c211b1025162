# Guest images for the end-to-end tier, included from the top Makefile
# (which defines BUILD and CC). Flat binaries assembled from tests/e2e/guests.

E2E_GUEST_DIR := $(BUILD)/tests/e2e

$(E2E_GUEST_DIR)/triplefault.bzImage: tests/e2e/guests/triplefault.S
	@mkdir -p $(dir $@)
	$(CC) -c -nostdlib -o $(@:.bzImage=.o) $<
	objcopy -O binary -j .text $(@:.bzImage=.o) $@

# test_boot loads the image through x86_load_kernel when it exists.
$(BUILD)/tests/unit/test_boot: $(E2E_GUEST_DIR)/triplefault.bzImage

e2e-guests: $(E2E_GUEST_DIR)/triplefault.bzImage
.PHONY: e2e-guests
