// A socket watched by a uv_poll_t, shared by libuv and a JS External (the TCP
// probe in check_socket.cc, the exchange in tcp_exchange.cc): T has handle, cb,
// fd, keepFd (the fd handed over: not closed), done, handleClosed, jsCollected.
// Its memory is freed when both the uv handle is closed and the JS handle is
// collected, so a late cancel is safe.
//
// Every open handle of a thread is tracked: when its environment tears down (a
// worker thread terminated at stop, the process exiting) an async cleanup hook
// closes the ones still open and lets node close the loop only once their close
// callbacks have run — otherwise node found them open ("uv loop ... has open
// handles") and aborted, or freed the loop under them (SIGSEGV).

#pragma once

#include <node_api.h>
#include <uv.h>
#include <unistd.h>

#include <unordered_map>
#include <utility>
#include <vector>

namespace polltrack {

using Finisher = void (*)(void*);

struct Registry {
  std::unordered_map<void*, Finisher> live;
  bool hooked = false;
  napi_async_cleanup_hook_handle closing = nullptr;
};

inline Registry& reg() {
  static thread_local Registry r;
  return r;
}

/** Teardown done when the last tracked handle has closed. */
inline void MaybeDone() {
  Registry& r = reg();
  if (r.closing == nullptr || !r.live.empty()) return;
  napi_async_cleanup_hook_handle h = r.closing;
  r.closing = nullptr;
  napi_remove_async_cleanup_hook(h);
}

inline void OnTeardown(napi_async_cleanup_hook_handle h, void*) {
  Registry& r = reg();
  r.closing = h;
  std::vector<std::pair<void*, Finisher>> open(r.live.begin(), r.live.end());
  for (auto& [p, finish] : open) finish(p);
  MaybeDone();
}

/** A handle started: closed by `finish` at teardown if it is still open then. */
inline void Track(napi_env env, void* p, Finisher finish) {
  Registry& r = reg();
  if (!r.hooked) r.hooked = napi_add_async_cleanup_hook(env, OnTeardown, nullptr, nullptr) == napi_ok;
  r.live[p] = finish;
}

/** Its close callback ran. */
inline void Untrack(void* p) {
  reg().live.erase(p);
  MaybeDone();
}

}  // namespace polltrack

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
    polltrack::Untrack(x);
    MaybeFree(x);
  });
}

/** Starts tracking a polled socket whose uv handle is started. */
template <class T>
void TrackPolled(napi_env env, T* x) {
  polltrack::Track(env, x, [](void* p) {
    T* x = static_cast<T*>(p);
    if (!x->done) FinishPolled(x);
  });
}
