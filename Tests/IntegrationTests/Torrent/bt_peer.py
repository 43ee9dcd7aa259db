#!/usr/bin/python3
"""Misbehaving BitTorrent peers for Swarm's tests, on 127.0.0.1 only (the torrent is read with
libtorrent; the wire is spoken by hand so that it can be broken on purpose).

    bt_peer.py corrupt --torrent T --port N --announce URL
        A seeder that announces itself, unchokes everyone, and answers every request with
        random bytes. Prints LISTENING, then SENT <n> per block; stops after --timeout.
    bt_peer.py wrong-metadata --torrent T --port N --announce URL
        A peer that announces itself for T's info-hash and, asked for the metadata (BEP 9),
        serves the info dictionary of another torrent.
    bt_peer.py failing-tracker --port N --reason TEXT
        An HTTP tracker that answers every announce with a bencoded failure reason.
    bt_peer.py attack CASE --torrent T --target-port N
        Connects to our client, handshakes, then sends what CASE names. Prints CLOSED (exit 0)
        when the client closed the connection within --timeout seconds, OPEN (exit 1) otherwise.
"""
import argparse
import os
import random
import socket
import struct
import sys
import threading
import time
import urllib.parse
import urllib.request

import libtorrent as lt

PREFIX = b"\x13BitTorrent protocol"


def handshake(info_hash, peer_id, fast=False):
    reserved = bytearray(8)
    if fast:
        reserved[7] |= 0x04
    return PREFIX + bytes(reserved) + info_hash + peer_id


def message(msg_id, payload=b""):
    return struct.pack(">IB", 1 + len(payload), msg_id) + payload


def read_exact(sock, count):
    data = b""
    while len(data) < count:
        part = sock.recv(count - len(data))
        if not part:
            raise ConnectionError("closed")
        data += part
    return data


def listen_and_announce(args, info_hash, peer_id):
    """Listens on --port and announces it, as a seeder, to --announce; prints LISTENING."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", args.port))
    server.listen(16)
    query = urllib.parse.urlencode({"peer_id": peer_id, "port": args.port, "uploaded": 0, "downloaded": 0,
                                    "left": 0, "compact": 1, "event": "started"})
    urllib.request.urlopen(args.announce + "?info_hash=" + urllib.parse.quote(info_hash, safe="") + "&" + query, timeout=5).read()
    print("LISTENING", flush=True)
    return server


def serve_corrupt(args, info):
    info_hash = bytes(info.info_hash().to_bytes())
    pieces = info.num_pieces()
    peer_id = b"-XX0001-" + os.urandom(6).hex().encode()
    server = listen_and_announce(args, info_hash, peer_id)

    def serve(sock):
        try:
            theirs = read_exact(sock, 68)
            if theirs[28:48] != info_hash:
                return
            sock.sendall(handshake(info_hash, peer_id))
            bits = bytearray((pieces + 7) // 8)
            for piece in range(pieces):
                bits[piece // 8] |= 0x80 >> (piece % 8)
            sock.sendall(message(5, bytes(bits)) + message(1))
            while True:
                length = struct.unpack(">I", read_exact(sock, 4))[0]
                if length == 0:
                    continue
                body = read_exact(sock, length)
                if body[0] == 6:
                    index, begin, size = struct.unpack(">III", body[1:13])
                    sock.sendall(message(7, struct.pack(">II", index, begin) + os.urandom(size)))
                    print(f"SENT {index} {begin}", flush=True)
        except (ConnectionError, OSError):
            pass
        finally:
            sock.close()

    server.settimeout(0.5)
    deadline = time.time() + args.timeout
    while time.time() < deadline:
        try:
            sock, _ = server.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(sock,), daemon=True).start()
    return 0


def attack(args, info):
    info_hash = bytes(info.info_hash().to_bytes())
    pieces = info.num_pieces()
    last = pieces - 1
    last_length = info.total_size() - last * info.piece_length()
    peer_id = b"-XX0001-" + os.urandom(6).hex().encode()
    bitfield_size = (pieces + 7) // 8
    good = handshake(info_hash, peer_id)
    cases = {
        "wrong-info-hash": handshake(os.urandom(20), peer_id),
        "too-long": good + struct.pack(">I", 1 << 30) + b"\x07",
        "bitfield-wrong-size": good + message(5, b"\xff" * (bitfield_size + 3)),
        "bitfield-spare-bits": good + message(5, b"\x00" * (bitfield_size - 1) + b"\xff"),
        "request-not-held": good + message(2) + message(6, struct.pack(">III", args.piece, 0, 16384)),
        "request-past-end": good + message(2) + message(6, struct.pack(">III", pieces + 5, 0, 16384)),
        "request-too-long": good + message(2) + message(6, struct.pack(">III", 0, 0, 1 << 20)),
        "request-over-piece-end": good + message(2) + message(6, struct.pack(">III", last, last_length - 100, 16384)),
        "have-flood": good + b"".join(message(4, struct.pack(">I", 0)) for _ in range(pieces + 200)),
        "unrequested-piece": good + message(7, struct.pack(">II", 0, 0) + os.urandom(16384)),
        "garbage": good + os.urandom(64),
    }
    payload = cases[args.case]
    sock = socket.create_connection(("127.0.0.1", args.target_port), timeout=args.timeout)
    sock.settimeout(args.timeout)
    closed = False
    try:
        # A served request needs the unchoke first: wait for the peer's opening messages.
        sock.sendall(payload[:68])
        if args.case.startswith("request-"):
            time.sleep(0.3)
        sock.sendall(payload[68:])
        deadline = time.time() + args.timeout
        while time.time() < deadline:
            if not sock.recv(65536):
                closed = True
                break
    except (ConnectionError, OSError):
        closed = True
    print("CLOSED" if closed else "OPEN", flush=True)
    return 0 if closed else 1


def wrong_metadata(args, info):
    info_hash = bytes(info.info_hash().to_bytes())
    peer_id = b"-XX0001-" + os.urandom(6).hex().encode()
    fake = lt.bencode({b"name": b"other", b"piece length": 16384, b"length": 5, b"pieces": os.urandom(20)})
    server = listen_and_announce(args, info_hash, peer_id)
    server.settimeout(args.timeout)
    sock, _ = server.accept()
    try:
        read_exact(sock, 68)
        reserved = bytearray(8)
        reserved[5] |= 0x10
        sock.sendall(PREFIX + bytes(reserved) + info_hash + peer_id)
        sock.sendall(message(20, b"\x00" + lt.bencode({b"m": {b"ut_metadata": 3}, b"metadata_size": len(fake)})))
        their_id = None
        while True:
            length = struct.unpack(">I", read_exact(sock, 4))[0]
            body = read_exact(sock, length) if length else b""
            if not body or body[0] != 20:
                continue
            if body[1] == 0:
                their_id = lt.bdecode(body[2:])[b"m"][b"ut_metadata"]
            elif body[1] == 3 and their_id is not None:
                reply = lt.bencode({b"msg_type": 1, b"piece": 0, b"total_size": len(fake)}) + fake
                sock.sendall(message(20, bytes([their_id]) + reply))
                print("SENT", flush=True)
    except (ConnectionError, OSError):
        pass
    print("CLOSED", flush=True)
    return 0


def failing_tracker(args):
    import http.server

    reason = args.reason.encode()
    body = b"d14:failure reason" + str(len(reason)).encode() + b":" + reason + b"8:intervali60ee"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *arguments):
            print("ANNOUNCE", flush=True)

    server = http.server.HTTPServer(("127.0.0.1", args.port), Handler)
    server.timeout = 0.5
    print("LISTENING", flush=True)
    deadline = time.time() + args.timeout
    while time.time() < deadline:
        server.handle_request()
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["corrupt", "attack", "failing-tracker", "wrong-metadata"])
    parser.add_argument("case", nargs="?")
    parser.add_argument("--torrent")
    parser.add_argument("--reason", default="torrent not registered")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--target-port", type=int, default=0)
    parser.add_argument("--announce")
    parser.add_argument("--piece", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=5)
    args = parser.parse_args()
    if args.mode == "failing-tracker":
        return failing_tracker(args)
    info = lt.torrent_info(args.torrent)
    random.seed()
    if args.mode == "wrong-metadata":
        return wrong_metadata(args, info)
    return serve_corrupt(args, info) if args.mode == "corrupt" else attack(args, info)


if __name__ == "__main__":
    sys.exit(main())
