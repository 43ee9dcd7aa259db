#!/usr/bin/env python3
"""A peer that behaves like the public implementations of the seed protocol.

It registers as "localhost", one recv(1024) per message, split(",") without strip, serves the
file "chunk_" + the second field, sends no terminators, and closes its tracker connection right
after registering. With -corrupt it serves flipped bytes while registering the true SHA-1 (a
lying peer). Used by the integration tests to prove that Swarm trackers and peers interoperate.
"""
import argparse
import hashlib
import os
import socket
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("-folder", required=True)
parser.add_argument("-transfer_port", type=int, required=True)
parser.add_argument("-name", required=True)
parser.add_argument("-tracker_port", type=int, default=5100)
parser.add_argument("-corrupt", action="store_true")
args = parser.parse_args()


def log(line):
    with open("logger.log", "a") as f:
        f.write(args.name + "," + line + "\n")


def read_list():
    have, total = {}, None
    with open(os.path.join(args.folder, "local_chunks.txt")) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            index, name = line.split(",")
            if name == "LASTCHUNK":
                total = int(index)
            else:
                have[int(index)] = name
    return have, total


def write_list(have, total):
    with open(os.path.join(args.folder, "local_chunks.txt"), "w") as f:
        for index in sorted(have):
            f.write("%d,%s\n" % (index, have[index]))
        f.write("%d,LASTCHUNK\n" % total)


def sha1(path):
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


def serve():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", args.transfer_port))
    server.listen(64)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=answer, args=(conn,), daemon=True).start()


def answer(conn):
    with conn:
        message = conn.recv(1024).decode()
        log(message)
        parts = message.split(",")
        if parts[0] != "REQUEST_CHUNK":
            return
        path = os.path.join(args.folder, "chunk_" + parts[1])
        if not os.path.exists(path):
            return
        with open(path, "rb") as f:
            data = f.read()
        if args.corrupt:
            data = bytes(b ^ 0xFF for b in data) or b"x"
        conn.sendall(data)


def register(index, name):
    conn = socket.create_connection(("127.0.0.1", args.tracker_port))
    message = "LOCAL_CHUNKS,%d,%s,localhost,%d" % (index, sha1(os.path.join(args.folder, name)), args.transfer_port)
    conn.send(message.encode())
    log(message)
    time.sleep(0.2)
    conn.close()


def where(index):
    conn = socket.create_connection(("127.0.0.1", args.tracker_port))
    conn.send(("WHERE_CHUNK,%d" % index).encode())
    answer = conn.recv(1024).decode()
    conn.close()
    log(answer)
    return answer.split(",")


def fetch(index, parts):
    sha, fields = parts[2], parts[3:]
    for i in range(0, len(fields) - 1, 2):
        try:
            conn = socket.create_connection((fields[i], int(fields[i + 1])), timeout=5)
        except OSError:
            continue
        conn.send(("REQUEST_CHUNK,%d" % index).encode())
        data = b""
        while True:
            block = conn.recv(65536)
            if not block:
                break
            data += block
        conn.close()
        if hashlib.sha1(data).hexdigest() == sha.strip():
            return data
    return None


threading.Thread(target=serve, daemon=True).start()
time.sleep(0.2)
have, total = read_list()
for index, name in sorted(have.items()):
    while True:
        try:
            register(index, name)
            break
        except OSError:
            time.sleep(0.5)
while len(have) < total:
    for index in range(1, total + 1):
        if index in have:
            continue
        try:
            parts = where(index)
        except OSError:
            continue
        if parts[0] != "GET_CHUNK_FROM":
            continue
        data = fetch(index, parts)
        if data is None:
            continue
        name = "chunk_%d" % index
        with open(os.path.join(args.folder, name), "wb") as f:
            f.write(data)
        have[index] = name
        write_list(have, total)
        register(index, name)
    time.sleep(0.5)
print(args.name, "complete", flush=True)
while True:
    time.sleep(3600)
