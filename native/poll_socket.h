// A socket watched by a uv_poll_t, shared by libuv and a JS External (the TCP
// probe in check_socket.cc, the exchange in tcp_exchange.cc): T has handle, cb,
// fd, keepFd (the fd handed over: not closed), done, handleClosed, jsCollected. Its memory is freed when both the uv
// handle is closed and the JS handle is collected, so a late cancel is safe.

#pragma once

#include <uv.h>
#include <unistd.h>

template <class T>
void MaybeFree(T* x) {
  if (x->handleClosed && x->jsCollected) delete x;
}

/** No callback after this: the watch stops, the handle closes, then the socket. */
template <class T>
void FinishPolled(T* x) {
  x->done = true;
  x->cb.Reset();
  uv_poll_stop(&x->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&x->handle), [](uv_handle_t* h) {
    T* x = static_cast<T*>(h->data);
    if (!x->keepFd) close(x->fd);
    x->handleClosed = true;
    MaybeFree(x);
  });
}
