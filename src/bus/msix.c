/* MSI-X (PCI Local Bus 3.0, 6.8.2). The capability's Message Control word
 * lives in the PCI device's config space (written under pci_device.lock,
 * which then calls msix_cfg_written); this file mirrors its enable and
 * function-mask bits under msix.lock, so msix_notify never needs the PCI
 * lock. Every sink call is made with msix.lock held: a vector's mask state
 * cannot change between the check and the delivery, so no message is lost
 * or sent while masked. */
#include "bus/msix.h"

#include <string.h>

#include "util/le.h"

#define MSIX_CAP_LEN         12
#define MSIX_CTRL_ENABLE     0x8000
#define MSIX_CTRL_FUNC_MASK  0x4000
#define MSIX_VEC_MASKED      0x1

enum { ENT_ADDR_LO, ENT_ADDR_HI, ENT_DATA, ENT_CTRL };

int msix_init(struct msix *m, struct pci_device *d, unsigned int nvec,
	      unsigned int bar, uint32_t table_off, uint32_t pba_off,
	      struct msix_sink sink, struct rv_err *err)
{
	uint8_t cap[MSIX_CAP_LEN] = { PCI_CAP_ID_MSIX };
	uint8_t wmask[MSIX_CAP_LEN] = { 0 };
	uint64_t bar_size;
	unsigned int v;

	if (nvec < 1 || nvec > MSIX_MAX_VECTORS)
		return rv_fail(err, "msix: %u vectors (must be 1..%d)", nvec,
			       MSIX_MAX_VECTORS);
	if (bar >= PCI_NUM_BARS)
		return rv_fail(err, "msix: BAR %u out of range", bar);
	/* The low three bits of each offset hold the BIR. */
	if ((table_off & 7) || (pba_off & 7))
		return rv_fail(err, "msix: table/PBA offsets %#x/%#x not "
			       "8-byte aligned", table_off, pba_off);
	/* Checked when the BAR is already declared. */
	bar_size = d->bar[bar].size;
	if (bar_size && ((uint64_t)table_off + nvec * MSIX_ENTRY_SIZE >
			 bar_size || (uint64_t)pba_off + 8 > bar_size))
		return rv_fail(err, "msix: table/PBA do not fit BAR %u", bar);

	memset(m, 0, sizeof(*m));
	m->pci = d;
	m->nvec = nvec;
	m->sink = sink;
	for (v = 0; v < nvec; v++)
		m->table[v].ctrl = MSIX_VEC_MASKED;

	/* Message Control: table size N-1 (RO), function mask, enable. */
	cap[2] = (uint8_t)(nvec - 1);
	cap[3] = (uint8_t)((nvec - 1) >> 8);
	wmask[3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_FUNC_MASK) >> 8;
	put_le32(&cap[4], table_off | bar);
	put_le32(&cap[8], pba_off | bar);
	if (pci_device_add_cap(d, cap, wmask, sizeof(cap), &m->cap_off,
			       err) < 0)
		return -1;
	pthread_mutex_init(&m->lock, NULL);
	return 0;
}

void msix_destroy(struct msix *m)
{
	pthread_mutex_destroy(&m->lock);
}

/* Caller holds m->lock. */
static bool deliverable(const struct msix *m, unsigned int v)
{
	return m->enabled && !m->func_masked &&
	       !(m->table[v].ctrl & MSIX_VEC_MASKED);
}

static void mask_changed(struct msix *m)
{
	if (m->mask_changed)
		m->mask_changed(m->mask_opaque);
}

void msix_set_mask_listener(struct msix *m, void (*fn)(void *), void *opaque)
{
	pthread_mutex_lock(&m->lock);
	m->mask_changed = fn;
	m->mask_opaque = opaque;
	pthread_mutex_unlock(&m->lock);
}

bool msix_deliverable_locked(const struct msix *m, unsigned int v)
{
	return v < m->nvec && deliverable(m, v);
}

int msix_bind_locked(struct msix *m, unsigned int v, int fd, bool on)
{
	if (v >= m->nvec || !m->sink.bind)
		return -1;
	return m->sink.bind(m->sink.ctx, v, fd, on);
}

static void fire(struct msix *m, unsigned int v)
{
	if (m->sink.fire)
		m->sink.fire(m->sink.ctx, v);
}

static void route(struct msix *m, unsigned int v)
{
	const struct msix_entry *e = &m->table[v];

	if (m->sink.route)
		m->sink.route(m->sink.ctx, v,
			      (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data);
}

/* Sends every pending message whose vector can now be delivered. Caller
 * holds m->lock. */
static void deliver_pending(struct msix *m)
{
	unsigned int v;

	for (v = 0; v < m->nvec; v++) {
		if ((m->pba >> v & 1) && deliverable(m, v)) {
			m->pba &= ~(1ULL << v);
			fire(m, v);
		}
	}
}

/* One aligned dword of the table; off < nvec * 16. Caller holds m->lock. */
static uint32_t table_read(const struct msix *m, uint64_t off)
{
	const struct msix_entry *e = &m->table[off / MSIX_ENTRY_SIZE];

	switch (off % MSIX_ENTRY_SIZE / 4) {
	case ENT_ADDR_LO:
		return e->addr_lo;
	case ENT_ADDR_HI:
		return e->addr_hi;
	case ENT_DATA:
		return e->data;
	default:
		return e->ctrl;
	}
}

static void table_write(struct msix *m, uint64_t off, uint32_t val)
{
	unsigned int v = (unsigned int)(off / MSIX_ENTRY_SIZE);
	struct msix_entry *e = &m->table[v];

	switch (off % MSIX_ENTRY_SIZE / 4) {
	case ENT_ADDR_LO:
		e->addr_lo = val & ~3U;   /* dword-aligned address (6.8.2.4) */
		route(m, v);
		break;
	case ENT_ADDR_HI:
		e->addr_hi = val;
		route(m, v);
		break;
	case ENT_DATA:
		e->data = val;
		route(m, v);
		break;
	default:
		/* Only the mask bit is defined; the rest are reserved. */
		e->ctrl = val & MSIX_VEC_MASKED;
		mask_changed(m);
		if ((m->pba >> v & 1) && deliverable(m, v)) {
			m->pba &= ~(1ULL << v);
			fire(m, v);
		}
		break;
	}
}

void msix_table_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write)
{
	uint64_t end = (uint64_t)m->nvec * MSIX_ENTRY_SIZE;
	uint32_t i;

	/* Dword or qword, naturally aligned, inside the table: a qword never
	 * crosses an entry and is handled as its two dwords (low first). */
	if ((len != 4 && len != 8) || off % len || off >= end) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < len; i += 4) {
		if (is_write)
			table_write(m, off + i, get_le32(data + i));
		else
			put_le32(data + i, table_read(m, off + i));
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len,
		 bool is_write)
{
	uint64_t pba;

	if (is_write)
		return;                  /* read-only */
	if ((len != 4 && len != 8) || off % len || off >= 8) {
		memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&m->lock);
	pba = m->pba;
	pthread_mutex_unlock(&m->lock);
	put_le32(data, (uint32_t)(pba >> (off * 8)));
	if (len == 8)
		put_le32(data + 4, (uint32_t)(pba >> 32));
}

void msix_cfg_written(struct msix *m, uint32_t off, uint32_t len)
{
	uint32_t ctl_off = m->cap_off + 2u;
	const uint8_t *cfg = m->pci->cfg;
	uint16_t ctl;
	bool was_enabled;
	unsigned int v;

	if ((uint64_t)off + len <= ctl_off || off >= ctl_off + 2)
		return;
	/* The caller holds pci_device.lock, so cfg is stable. */
	ctl = (uint16_t)(cfg[ctl_off] | cfg[ctl_off + 1] << 8);

	pthread_mutex_lock(&m->lock);
	was_enabled = m->enabled;
	m->enabled = ctl & MSIX_CTRL_ENABLE;
	m->func_masked = ctl & MSIX_CTRL_FUNC_MASK;
	if (m->enabled && !was_enabled) {
		for (v = 0; v < m->nvec; v++)
			route(m, v);
	}
	mask_changed(m);
	deliver_pending(m);
	pthread_mutex_unlock(&m->lock);
}

void msix_notify(struct msix *m, unsigned int v)
{
	if (v >= m->nvec)
		return;
	pthread_mutex_lock(&m->lock);
	if (deliverable(m, v))
		fire(m, v);
	else
		m->pba |= 1ULL << v;
	pthread_mutex_unlock(&m->lock);
}

void msix_save(struct msix *m, struct state_writer *w)
{
	pthread_mutex_lock(&m->lock);
	state_put_u32(w, m->nvec);
	for (unsigned int v = 0; v < m->nvec; v++) {
		state_put_u32(w, m->table[v].addr_lo);
		state_put_u32(w, m->table[v].addr_hi);
		state_put_u32(w, m->table[v].data);
		state_put_u32(w, m->table[v].ctrl);
	}
	state_put_u64(w, m->pba);
	pthread_mutex_unlock(&m->lock);
}

void msix_load(struct msix *m, struct state_cursor *c)
{
	const uint8_t *cfg = m->pci->cfg;
	uint32_t ctl_off = m->cap_off + 2u;
	struct msix_entry t[MSIX_MAX_VECTORS];
	uint64_t pba;
	uint16_t ctl;

	if (state_get_u32(c) != m->nvec) {
		state_cursor_reject(c, "MSI-X vector count differs");
		return;
	}
	for (unsigned int v = 0; v < m->nvec; v++) {
		t[v].addr_lo = state_get_u32(c) & ~3u;
		t[v].addr_hi = state_get_u32(c);
		t[v].data = state_get_u32(c);
		t[v].ctrl = state_get_u32(c) & MSIX_VEC_MASKED;
	}
	pba = state_get_u64(c);
	if (m->nvec < 64 && (pba >> m->nvec))
		state_cursor_reject(c, "MSI-X pending bits beyond the table");
	if (c->bad)
		return;
	ctl = (uint16_t)(cfg[ctl_off] | cfg[ctl_off + 1] << 8);
	pthread_mutex_lock(&m->lock);
	memcpy(m->table, t, m->nvec * sizeof(t[0]));
	m->pba = pba;
	m->enabled = ctl & MSIX_CTRL_ENABLE;
	m->func_masked = ctl & MSIX_CTRL_FUNC_MASK;
	for (unsigned int v = 0; v < m->nvec; v++)
		route(m, v);
	mask_changed(m);
	pthread_mutex_unlock(&m->lock);
}
