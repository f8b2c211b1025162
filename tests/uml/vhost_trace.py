#!/usr/bin/env python3
"""vhost_trace.py LISTEN UPSTREAM [LOG]: a vhost-user man in the middle.

Listens on the unix socket LISTEN, and for each front end that connects
opens UPSTREAM (the back end's socket) and relays both ways, file
descriptors (SCM_RIGHTS) included, while logging every message decoded
(docs/interop/vhost-user.rst) to LOG (default: stderr). Messages on the
back-end request channel (SET_BACKEND_REQ_FD's socket) pass directly and
are only noted. Stops when the front end goes away.
"""
import os
import select
import socket
import struct
import sys

REQ = {1: "GET_FEATURES", 2: "SET_FEATURES", 3: "SET_OWNER", 4: "RESET_OWNER",
       5: "SET_MEM_TABLE", 6: "SET_LOG_BASE", 7: "SET_LOG_FD",
       8: "SET_VRING_NUM", 9: "SET_VRING_ADDR", 10: "SET_VRING_BASE",
       11: "GET_VRING_BASE", 12: "SET_VRING_KICK", 13: "SET_VRING_CALL",
       14: "SET_VRING_ERR", 15: "GET_PROTOCOL_FEATURES",
       16: "SET_PROTOCOL_FEATURES", 17: "GET_QUEUE_NUM",
       18: "SET_VRING_ENABLE", 19: "SEND_RARP", 20: "NET_SET_MTU",
       21: "SET_BACKEND_REQ_FD", 22: "IOTLB_MSG", 23: "SET_VRING_ENDIAN",
       24: "GET_CONFIG", 25: "SET_CONFIG", 31: "GET_INFLIGHT_FD",
       32: "SET_INFLIGHT_FD", 34: "RESET_DEVICE", 35: "VRING_KICK",
       36: "GET_MAX_MEM_SLOTS", 37: "ADD_MEM_REG", 38: "REM_MEM_REG",
       39: "SET_STATUS", 40: "GET_STATUS"}
PROTO = ["MQ", "LOG_SHMFD", "RARP", "REPLY_ACK", "MTU", "BACKEND_REQ",
         "CROSS_ENDIAN", "CRYPTO_SESSION", "PAGEFAULT", "CONFIG",
         "BACKEND_SEND_FD", "HOST_NOTIFIER", "INFLIGHT_SHMFD", "RESET_DEVICE",
         "INBAND_NOTIFICATIONS", "CONFIGURE_MEM_SLOTS", "STATUS"]
VIRTIO = {0: "BLK_BARRIER", 1: "BLK_SIZE_MAX", 2: "BLK_SEG_MAX",
          4: "BLK_GEOMETRY", 5: "BLK_RO", 6: "BLK_BLK_SIZE", 9: "BLK_FLUSH",
          10: "BLK_TOPOLOGY", 11: "BLK_CONFIG_WCE", 12: "BLK_MQ",
          13: "BLK_DISCARD", 14: "BLK_WRITE_ZEROES", 24: "NOTIFY_ON_EMPTY",
          27: "ANY_LAYOUT", 28: "RING_INDIRECT_DESC", 29: "RING_EVENT_IDX",
          30: "PROTOCOL_FEATURES", 32: "VERSION_1", 33: "ACCESS_PLATFORM",
          34: "RING_PACKED", 35: "IN_ORDER", 36: "ORDER_PLATFORM",
          37: "SR_IOV", 38: "NOTIFICATION_DATA"}


def bits(v, names):
    out = []
    for i in range(64):
        if v >> i & 1:
            n = names.get(i) if isinstance(names, dict) else (
                names[i] if i < len(names) else None)
            out.append(n or "bit%d" % i)
    return "|".join(out) or "0"


def decode(req, flags, body):
    name = REQ.get(req, "REQ_%d" % req)
    reply = flags & 4
    s = "%s%s flags=%#x size=%d" % (name, " (reply)" if reply else "",
                                    flags, len(body))
    try:
        if reply and req not in (1, 11, 15, 17, 24, 36, 40) and len(body) == 8:
            # REPLY_ACK's answer to a request sent with NEED_REPLY
            v = struct.unpack_from("<Q", body)[0]
            s += " ack=%d%s" % (v, "" if v == 0 else " (failure)")
        elif req in (1, 2) and len(body) >= 8:
            s += " features=%#x [%s]" % (struct.unpack_from("<Q", body)[0],
                                         bits(struct.unpack_from("<Q", body)[0], VIRTIO))
        elif req in (15, 16) and len(body) >= 8:
            v = struct.unpack_from("<Q", body)[0]
            s += " protocol=%#x [%s]" % (v, bits(v, PROTO))
        elif req in (8, 10, 11, 18) and len(body) >= 8:
            s += " index=%d num=%d" % struct.unpack_from("<II", body)
        elif req == 9 and len(body) >= 40:
            i, f, d, u, a, lg = struct.unpack_from("<IIQQQQ", body)
            s += " index=%d flags=%#x desc=%#x used=%#x avail=%#x log=%#x" % (
                i, f, d, u, a, lg)
        elif req in (12, 13, 14) and len(body) >= 8:
            v = struct.unpack_from("<Q", body)[0]
            s += " index=%d%s" % (v & 0xff, " NOFD" if v & 0x100 else "")
        elif req == 5 and len(body) >= 8:
            n = struct.unpack_from("<I", body)[0]
            s += " nregions=%d" % n
            for k in range(n):
                gpa, size, ua, off = struct.unpack_from("<QQQQ", body, 8 + 32 * k)
                s += "\n    region %d: guest_phys=%#x size=%#x (%d MiB) user=%#x mmap_offset=%#x" % (
                    k, gpa, size, size >> 20, ua, off)
        elif req in (24, 25) and len(body) >= 12:
            off, size, fl = struct.unpack_from("<III", body)
            s += " offset=%d size=%d flags=%#x data=%s" % (
                off, size, fl, body[12:12 + size].hex())
        elif len(body) == 8:
            s += " u64=%#x" % struct.unpack_from("<Q", body)[0]
    except struct.error:
        s += " (short)"
    return s


class Stream:
    """Reassembles one direction's messages for logging."""

    def __init__(self, tag, log):
        self.tag, self.log, self.buf, self.fds = tag, log, b"", 0

    def feed(self, data, nfds):
        self.buf += data
        self.fds += nfds
        while len(self.buf) >= 12:
            req, flags, size = struct.unpack_from("<III", self.buf)
            if len(self.buf) < 12 + size:
                break
            body = self.buf[12:12 + size]
            self.buf = self.buf[12 + size:]
            fd = " +%d fd" % self.fds if self.fds else ""
            self.fds = 0
            self.log.write("%s %s%s\n" % (self.tag, decode(req, flags, body), fd))
            self.log.flush()


def relay(src, dst, stream):
    data, anc, _, _ = src.recvmsg(65536, socket.CMSG_SPACE(64 * 4))
    fds = []
    for level, typ, payload in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds += list(struct.unpack("<%di" % (len(payload) // 4),
                                      payload[:len(payload) // 4 * 4]))
    if not data:
        return False
    cm = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
           struct.pack("<%di" % len(fds), *fds))] if fds else []
    # One read may hold several messages (QEMU does not wait for replies);
    # a Unix socket returns fds with the last piece of data they came
    # with, so whole messages before the last go on without them.
    head = 0
    while fds:
        if len(data) - head < 12:
            break
        size = struct.unpack_from("<I", data, head + 8)[0]
        end = head + 12 + size
        if end >= len(data):
            break
        head = end
    if head:
        dst.sendall(data[:head])
    dst.sendmsg([data[head:]], cm)
    for fd in fds:
        os.close(fd)
    stream.feed(data, len(fds))
    return True


def main():
    listen, upstream = sys.argv[1], sys.argv[2]
    log = open(sys.argv[3], "a") if len(sys.argv) > 3 else sys.stderr
    if os.path.exists(listen):
        os.unlink(listen)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(listen)
    srv.listen(1)
    fe, _ = srv.accept()
    be = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    be.connect(upstream)
    log.write("# front end connected, relaying to %s\n" % upstream)
    streams = {fe: (be, Stream("F->B", log)), be: (fe, Stream("B->F", log))}
    while True:
        r, _, _ = select.select([fe, be], [], [])
        for s in r:
            if not relay(s, *streams[s]):
                log.write("# %s closed\n" % ("front end" if s is fe else "back end"))
                return


if __name__ == "__main__":
    main()
