// Write coalescing: frames written to a link in one event-loop turn go out in
// one writev when the turn ends (the socket is corked on the first frame and
// uncorked from setImmediate). A burst of datagrams read in one poll and
// forwarded costs one system call, not one per frame.

import type net from 'node:net';

export interface Corkable {
  socket: net.Socket;
  /** Frames written this event-loop turn wait for one writev (setImmediate uncorks). */
  corked: boolean;
}

/** Write a frame, corking the socket for the rest of this turn if it is not yet. */
export function writeBatched(conn: Corkable, frame: Buffer): void {
  if (!conn.corked) {
    // One system call for every frame of this turn instead of one each; the wait is the rest of this turn.
    conn.corked = true;
    conn.socket.cork();
    setImmediate(uncork, conn);
  }
  conn.socket.write(frame);
}

/** Send what this turn corked now (before a close: a goodbye goes out). */
export function flush(conn: Corkable): void {
  if (conn.corked) uncork(conn);
}

function uncork(conn: Corkable): void {
  conn.corked = false;
  conn.socket.uncork();
}
