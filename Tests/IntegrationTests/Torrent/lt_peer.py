#!/usr/bin/python3
"""A libtorrent peer for Swarm's BitTorrent tests, on 127.0.0.1 only.

Seeds or downloads one torrent with DHT, local peer discovery, UPnP, NAT-PMP, uTP and
encryption off, several connections per IP allowed. Prints `LISTENING <port>` once up,
`SEEDING` once it holds everything, and stops by itself after --timeout seconds.

    lt_peer.py --torrent t.torrent --save DIR --port N [--peer 127.0.0.1:P ...] [--timeout S]
    lt_peer.py --magnet URI --save DIR --port N [--peer 127.0.0.1:P ...] [--timeout S]
    lt_peer.py --make-torrent PATH --announce URL [--announce URL ...] --piece-size BYTES --out t.torrent
"""
import argparse
import sys
import time

import libtorrent as lt


def make_torrent(path, announce, piece_size, out):
    files = lt.file_storage()
    lt.add_files(files, path)
    torrent = lt.create_torrent(files, piece_size, flags=lt.create_torrent.v1_only)
    for tier, url in enumerate(announce):
        torrent.add_tracker(url, tier)
    torrent.set_creator("swarm tests")
    import os
    lt.set_piece_hashes(torrent, os.path.dirname(os.path.abspath(path)))
    with open(out, "wb") as handle:
        handle.write(lt.bencode(torrent.generate()))


def run(args):
    settings = {
        "listen_interfaces": f"127.0.0.1:{args.port}",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "out_enc_policy": lt.enc_policy.disabled,
        "in_enc_policy": lt.enc_policy.disabled,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
        "user_agent": "libtorrent-test",
    }
    session = lt.session(settings)
    if args.magnet:
        params = lt.parse_magnet_uri(args.magnet)
    else:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(args.torrent)
    params.save_path = args.save
    handle = session.add_torrent(params)
    started = time.time()
    for peer in args.peer:
        host, port = peer.rsplit(":", 1)
        handle.connect_peer((host, int(port)))
    print(f"LISTENING {session.listen_port()}", flush=True)
    deadline = time.time() + args.timeout
    said_seeding = False
    last_report = 0.0
    while time.time() < deadline:
        status = handle.status()
        if status.is_seeding and not said_seeding:
            print(f"SEEDING after {time.time() - started:.3f} s", flush=True)
            said_seeding = True
            if args.exit_when_seeding:
                return 0
        if time.time() - last_report > 1:
            last_report = time.time()
            print(f"state {status.state} progress {status.progress:.3f} peers {status.num_peers} "
                  f"down {status.total_payload_download} up {status.total_payload_upload}", flush=True)
        for alert in session.pop_alerts():
            if alert.category() & lt.alert.category_t.error_notification:
                print(f"alert {alert.message()}", flush=True)
        time.sleep(0.1)
    print("TIMEOUT", flush=True)
    return 0 if said_seeding else 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--torrent")
    parser.add_argument("--magnet", help="a magnet link, instead of --torrent")
    parser.add_argument("--save")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--peer", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--exit-when-seeding", action="store_true")
    parser.add_argument("--make-torrent")
    parser.add_argument("--announce", action="append", default=[], help="a tracker URL, each in a tier of its own")
    parser.add_argument("--piece-size", type=int, default=256 * 1024)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.make_torrent:
        make_torrent(args.make_torrent, args.announce, args.piece_size, args.out)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
