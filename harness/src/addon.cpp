// Thin Node-API wrapper over the libzmq C API for zmq-fd's tests.
//
// Policy lives in harness/*.ts (timeouts, option names, which sockets to make,
// socket tracking); this file only converts arguments, calls libzmq or the OS,
// and turns errno into a JS Error with `code` (errno name), `errno` and
// `syscall`. The one piece with a loop of its own is the ZAP handler, which
// must answer from another thread (see "ZAP handler" below).

#include <napi.h>
// For zmq_socket_monitor_versioned and zmq_socket_monitor_pipes_stats (soak
// and faults block); libzmq is built with ENABLE_DRAFTS, which exports them.
#define ZMQ_BUILD_DRAFT_API
#include <zmq.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

// libzmq's own errno values (ZMQ_HAUSNUMERO + n) are unknown to the C library.
const char *errno_name(int err) {
  switch (err) {
    case EFSM: return "EFSM";
    case ENOCOMPATPROTO: return "ENOCOMPATPROTO";
    case ETERM: return "ETERM";
    case EMTHREAD: return "EMTHREAD";
    default: break;
  }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
  if (const char *name = strerrorname_np(err)) return name;
#endif
  return "EUNKNOWN";
}

[[noreturn]] void throw_errno(Napi::Env env, const char *syscall, int err = errno) {
  // zmq_strerror covers both libzmq's codes and the system's (it falls back to strerror).
  Napi::Error error = Napi::Error::New(env, zmq_strerror(err));
  error.Set("code", errno_name(err));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", syscall);
  throw error;
}

// Contexts and sockets cross into JS as type-tagged externals, so passing one
// where the other is expected is a TypeError instead of a crash. `ptr` is
// cleared on close/term so a stale handle fails cleanly too.
struct Handle {
  void *ptr;
};
constexpr napi_type_tag kContextTag = {0x7a6d7166645f6374ULL, 0x0000000000000001ULL};
constexpr napi_type_tag kSocketTag = {0x7a6d7166645f736bULL, 0x0000000000000002ULL};

// `ptr` is what a zmq_*_new-style call returned; null means it failed.
Napi::Value wrap(Napi::Env env, void *ptr, const napi_type_tag &tag, const char *call) {
  if (ptr == nullptr) throw_errno(env, call);
  auto external = Napi::External<Handle>::New(env, new Handle{ptr}, [](Napi::Env, Handle *h) { delete h; });
  external.TypeTag(&tag);
  return external;
}

Handle &unwrap(const Napi::CallbackInfo &info, size_t i, const napi_type_tag &tag, const char *what) {
  Napi::Value v = info[i];
  if (!v.IsExternal() || !v.As<Napi::External<Handle>>().CheckTypeTag(&tag)) {
    throw Napi::TypeError::New(info.Env(), std::string("argument ") + std::to_string(i + 1) + " must be a " + what);
  }
  return *v.As<Napi::External<Handle>>().Data();
}

// A closed socket or terminated context gives the errno libzmq itself uses for them.
void *socket_arg(const Napi::CallbackInfo &info) {
  Handle &h = unwrap(info, 0, kSocketTag, "socket");
  if (h.ptr == nullptr) throw_errno(info.Env(), "socket", ENOTSOCK);
  return h.ptr;
}

void *context_arg(const Napi::CallbackInfo &info) {
  Handle &h = unwrap(info, 0, kContextTag, "context");
  if (h.ptr == nullptr) throw_errno(info.Env(), "context", EFAULT);
  return h.ptr;
}

int int_arg(const Napi::CallbackInfo &info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i + 1) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

std::string string_arg(const Napi::CallbackInfo &info, size_t i) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i + 1) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Buffer<uint8_t> buffer_arg(const Napi::CallbackInfo &info, size_t i) {
  if (!info[i].IsBuffer()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i + 1) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

// Every raw-descriptor call returns -1 and sets errno on failure.
int check_sys(Napi::Env env, int rc, const char *syscall) {
  if (rc < 0) throw_errno(env, syscall);
  return rc;
}

// ---- library -----------------------------------------------------------

Napi::Value Version(const Napi::CallbackInfo &info) {
  int major = 0, minor = 0, patch = 0;
  zmq_version(&major, &minor, &patch);
  Napi::Array v = Napi::Array::New(info.Env(), 3);
  v.Set(0u, major);
  v.Set(1u, minor);
  v.Set(2u, patch);
  return v;
}

Napi::Value Has(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), zmq_has(string_arg(info, 0).c_str()) != 0);
}

// The file the dynamic loader actually mapped zmq_version from: the only reliable
// answer to "is this the patched build or the system libzmq.so.5?".
Napi::Value LibraryPath(const Napi::CallbackInfo &info) {
  Dl_info dl{};
  if (dladdr(reinterpret_cast<void *>(&zmq_version), &dl) == 0 || dl.dli_fname == nullptr) {
    throw Napi::Error::New(info.Env(), "dladdr(zmq_version) found no library");
  }
  return Napi::String::New(info.Env(), dl.dli_fname);
}

// ---- contexts and sockets -------------------------------------------------

// Ending a handle twice is a no-op, so JS cleanup paths need no bookkeeping.
Napi::Value end(const Napi::CallbackInfo &info, const napi_type_tag &tag, const char *what, int (*release)(void *), const char *call) {
  Handle &h = unwrap(info, 0, tag, what);
  if (h.ptr != nullptr && release(h.ptr) != 0) throw_errno(info.Env(), call);
  h.ptr = nullptr;
  return info.Env().Undefined();
}

Napi::Value CtxNew(const Napi::CallbackInfo &info) { return wrap(info.Env(), zmq_ctx_new(), kContextTag, "zmq_ctx_new"); }

Napi::Value CtxTerm(const Napi::CallbackInfo &info) { return end(info, kContextTag, "context", zmq_ctx_term, "zmq_ctx_term"); }

Napi::Value Socket(const Napi::CallbackInfo &info) {
  return wrap(info.Env(), zmq_socket(context_arg(info), int_arg(info, 1)), kSocketTag, "zmq_socket");
}

Napi::Value Close(const Napi::CallbackInfo &info) { return end(info, kSocketTag, "socket", zmq_close, "zmq_close"); }

// zmq_bind, zmq_connect, zmq_unbind and zmq_disconnect all take (socket, endpoint).
template <int (*call)(void *, const char *)>
Napi::Value EndpointCall(const Napi::CallbackInfo &info, const char *name) {
  if (call(socket_arg(info), string_arg(info, 1).c_str()) != 0) throw_errno(info.Env(), name);
  return info.Env().Undefined();
}
Napi::Value Bind(const Napi::CallbackInfo &info) { return EndpointCall<zmq_bind>(info, "zmq_bind"); }
Napi::Value Connect(const Napi::CallbackInfo &info) { return EndpointCall<zmq_connect>(info, "zmq_connect"); }
Napi::Value Unbind(const Napi::CallbackInfo &info) { return EndpointCall<zmq_unbind>(info, "zmq_unbind"); }
Napi::Value Disconnect(const Napi::CallbackInfo &info) { return EndpointCall<zmq_disconnect>(info, "zmq_disconnect"); }

Napi::Value SetsockoptInt(const Napi::CallbackInfo &info) {
  int value = int_arg(info, 2);
  if (zmq_setsockopt(socket_arg(info), int_arg(info, 1), &value, sizeof value) != 0) throw_errno(info.Env(), "zmq_setsockopt");
  return info.Env().Undefined();
}

// Binary and string options alike (ZMQ_SUBSCRIBE, ZMQ_ROUTING_ID, ZMQ_PLAIN_*,
// ZMQ_CURVE_* as 32 bytes or 40 Z85 characters, ZMQ_ZAP_DOMAIN).
Napi::Value SetsockoptBytes(const Napi::CallbackInfo &info) {
  auto value = buffer_arg(info, 2);
  if (zmq_setsockopt(socket_arg(info), int_arg(info, 1), value.Data(), value.Length()) != 0) throw_errno(info.Env(), "zmq_setsockopt");
  return info.Env().Undefined();
}

Napi::Value GetsockoptInt(const Napi::CallbackInfo &info) {
  int value = 0;
  size_t size = sizeof value;
  if (zmq_getsockopt(socket_arg(info), int_arg(info, 1), &value, &size) != 0) throw_errno(info.Env(), "zmq_getsockopt");
  return Napi::Number::New(info.Env(), value);
}

// The option's bytes as libzmq returns them: string options include their NUL.
Napi::Value GetsockoptBytes(const Napi::CallbackInfo &info) {
  char value[1024] = {};
  size_t size = sizeof value;
  if (zmq_getsockopt(socket_arg(info), int_arg(info, 1), value, &size) != 0) throw_errno(info.Env(), "zmq_getsockopt");
  return Napi::Buffer<char>::Copy(info.Env(), value, size);
}

Napi::Value Send(const Napi::CallbackInfo &info) {
  auto data = buffer_arg(info, 1);
  int n = zmq_send(socket_arg(info), data.Data(), data.Length(), int_arg(info, 2));
  if (n < 0) throw_errno(info.Env(), "zmq_send");
  return Napi::Number::New(info.Env(), n);
}

Napi::Value Recv(const Napi::CallbackInfo &info) {
  void *s = socket_arg(info);
  zmq_msg_t msg;
  zmq_msg_init(&msg);
  if (zmq_msg_recv(&msg, s, int_arg(info, 1)) < 0) {
    int err = errno;
    zmq_msg_close(&msg);
    throw_errno(info.Env(), "zmq_msg_recv", err);
  }
  auto out = Napi::Buffer<uint8_t>::Copy(info.Env(), static_cast<uint8_t *>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
  zmq_msg_close(&msg);
  return out;
}

// Blocks the JS thread for at most `timeout` ms (the caller always passes a bound).
Napi::Value Poll(const Napi::CallbackInfo &info) {
  zmq_pollitem_t item{};
  item.socket = socket_arg(info);
  item.events = static_cast<short>(int_arg(info, 1));
  if (zmq_poll(&item, 1, int_arg(info, 2)) < 0) throw_errno(info.Env(), "zmq_poll");
  return Napi::Number::New(info.Env(), item.revents);
}

// Starts publishing the socket's events on an inproc PAIR endpoint (null stops
// it). Reading them is done in TS with an ordinary PAIR socket.
Napi::Value SocketMonitor(const Napi::CallbackInfo &info) {
  void *s = socket_arg(info);
  const std::string endpoint = info[1].IsNull() ? std::string() : string_arg(info, 1);
  if (zmq_socket_monitor(s, info[1].IsNull() ? nullptr : endpoint.c_str(), int_arg(info, 2)) != 0) throw_errno(info.Env(), "zmq_socket_monitor");
  return info.Env().Undefined();
}

// { publicKey, secretKey } as 40-character Z85 strings.
Napi::Value CurveKeypair(const Napi::CallbackInfo &info) {
  char public_key[41] = {}, secret_key[41] = {};
  if (zmq_curve_keypair(public_key, secret_key) != 0) throw_errno(info.Env(), "zmq_curve_keypair");
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("publicKey", public_key);
  out.Set("secretKey", secret_key);
  return out;
}

// ---- ZAP handler (RFC 27) ---------------------------------------------------
//
// libzmq asks the ZAP handler from its I/O thread while the application thread
// may be blocked in zmq_poll or zmq_recv, so the handler needs a thread of its
// own: JS, single-threaded and blocked in the same call, could not answer.
// The table of what to allow comes from TS; this only looks requests up in it.

struct ZapDecision {
  std::string mechanism;
  std::string identity;  // PLAIN user name, or the CURVE client key in Z85
  std::string status;    // "200" or "400"
  std::string address;   // the request's address frame: the peer's IP, or ":uid:gid:pid" over UNIX
};

struct ZapHandler {
  void *ctx;
  std::map<std::string, std::string> plain;  // user name → password
  std::set<std::string> curve;               // client public keys, Z85
  int wake[2] = {-1, -1};                    // writing to wake[1] stops the thread
  std::promise<int> ready;                   // 0 once bound, else the errno; lives as long as the thread
  std::thread thread;
  std::vector<ZapDecision> decisions;        // written by the thread, read after join
};

constexpr napi_type_tag kZapTag = {0x7a6d7166645f7a61ULL, 0x0000000000000003ULL};

// One request: frames [version, request id, domain, address, routing id,
// mechanism, credentials…]. Anything not allowed by the table gets 400.
bool answer_zap(void *rep, ZapHandler &h) {
  std::vector<std::string> frames;
  int more = 0;
  do {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, rep, 0) < 0) {
      zmq_msg_close(&msg);
      return false;
    }
    frames.emplace_back(static_cast<const char *>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
    more = zmq_msg_more(&msg);
    zmq_msg_close(&msg);
  } while (more);

  ZapDecision d{frames.size() > 5 ? frames[5] : "", "", "400", frames.size() > 3 ? frames[3] : ""};
  if (d.mechanism == "PLAIN" && frames.size() == 8) {
    d.identity = frames[6];
    auto it = h.plain.find(frames[6]);
    if (it != h.plain.end() && it->second == frames[7]) d.status = "200";
  } else if (d.mechanism == "CURVE" && frames.size() == 7 && frames[6].size() == 32) {
    char z85[41] = {};
    zmq_z85_encode(z85, reinterpret_cast<const uint8_t *>(frames[6].data()), 32);
    d.identity = z85;
    if (h.curve.count(d.identity) != 0) d.status = "200";
  }
  const std::string reply[] = {"1.0", frames.size() > 1 ? frames[1] : "", d.status, d.status == "200" ? "OK" : "denied",
                               d.status == "200" ? d.identity : "", ""};
  h.decisions.push_back(d);
  for (size_t i = 0; i < 6; ++i) {
    if (zmq_send(rep, reply[i].data(), reply[i].size(), i < 5 ? ZMQ_SNDMORE : 0) < 0) return false;
  }
  return true;
}

void serve_zap(ZapHandler *h) {
  void *rep = zmq_socket(h->ctx, ZMQ_REP);
  if (rep == nullptr) return h->ready.set_value(errno);
  int linger = 0;
  zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof linger);
  if (zmq_bind(rep, "inproc://zeromq.zap.01") != 0) {
    const int err = errno;
    zmq_close(rep);
    return h->ready.set_value(err);
  }
  h->ready.set_value(0);
  for (;;) {
    zmq_pollitem_t items[2] = {{rep, 0, ZMQ_POLLIN, 0}, {nullptr, h->wake[0], ZMQ_POLLIN, 0}};
    // Waits for a request or for zapStop; zmq_ctx_term ends it too (ETERM).
    if (zmq_poll(items, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (items[1].revents != 0 || !answer_zap(rep, *h)) break;
  }
  zmq_close(rep);
}

void stop_zap(ZapHandler *h) {
  if (!h->thread.joinable()) return;
  const char byte = 0;
  // The pipe is new and empty, so this write cannot block.
  while (write(h->wake[1], &byte, 1) < 0 && errno == EINTR) {
  }
  h->thread.join();
  close(h->wake[0]);
  close(h->wake[1]);
}

// zapStart(ctx, { plain: { user: password }, curve: [z85…] }): returns once the
// handler is bound, so that no handshake can miss it.
Napi::Value ZapStart(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[1].IsObject()) throw Napi::TypeError::New(env, "argument 2 must be a ZAP policy object");
  Napi::Object policy = info[1].As<Napi::Object>();
  auto h = std::make_unique<ZapHandler>();
  h->ctx = context_arg(info);
  Napi::Object plain = policy.Get("plain").As<Napi::Object>();
  Napi::Array users = plain.GetPropertyNames();
  for (uint32_t i = 0; i < users.Length(); ++i) {
    const std::string user = users.Get(i).As<Napi::String>();
    h->plain[user] = plain.Get(user).As<Napi::String>().Utf8Value();
  }
  Napi::Array curve = policy.Get("curve").As<Napi::Array>();
  for (uint32_t i = 0; i < curve.Length(); ++i) h->curve.insert(curve.Get(i).As<Napi::String>().Utf8Value());

  check_sys(env, pipe2(h->wake, O_CLOEXEC), "pipe2");
  std::future<int> bound = h->ready.get_future();
  h->thread = std::thread(serve_zap, h.get());
  if (const int err = bound.get()) {
    stop_zap(h.get());
    throw_errno(env, "zmq_bind(inproc://zeromq.zap.01)", err);
  }
  auto external = Napi::External<ZapHandler>::New(env, h.release(), [](Napi::Env, ZapHandler *p) {
    stop_zap(p);
    delete p;
  });
  external.TypeTag(&kZapTag);
  return external;
}

// Stops the handler (idempotent) and returns every decision it made, in order.
Napi::Value ZapStop(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal() || !info[0].As<Napi::External<ZapHandler>>().CheckTypeTag(&kZapTag)) {
    throw Napi::TypeError::New(env, "argument 1 must be a ZAP handler");
  }
  ZapHandler *h = info[0].As<Napi::External<ZapHandler>>().Data();
  stop_zap(h);
  Napi::Array out = Napi::Array::New(env, h->decisions.size());
  for (size_t i = 0; i < h->decisions.size(); ++i) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("mechanism", h->decisions[i].mechanism);
    d.Set("identity", h->decisions[i].identity);
    d.Set("status", h->decisions[i].status);
    d.Set("address", h->decisions[i].address);
    out.Set(static_cast<uint32_t>(i), d);
  }
  return out;
}

// ---- message properties (security tests) -------------------------------------

// recvProperty(socket, flags, name): one frame and its zmq_msg_gets (name),
// e.g. "Peer-Address", which libzmq takes from the connection, not the peer;
// null when the message has no such property.
Napi::Value RecvProperty(const Napi::CallbackInfo &info) {
  void *s = socket_arg(info);
  const std::string name = string_arg(info, 2);
  zmq_msg_t msg;
  zmq_msg_init(&msg);
  if (zmq_msg_recv(&msg, s, int_arg(info, 1)) < 0) {
    const int err = errno;
    zmq_msg_close(&msg);
    throw_errno(info.Env(), "zmq_msg_recv", err);
  }
  const char *value = zmq_msg_gets(&msg, name.c_str());
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Buffer<uint8_t>::Copy(info.Env(), static_cast<uint8_t *>(zmq_msg_data(&msg)), zmq_msg_size(&msg)));
  out.Set(1u, value ? Napi::Value(Napi::String::New(info.Env(), value)) : info.Env().Null());
  zmq_msg_close(&msg);
  return out;
}

// ---- raw descriptors: one call per system call ------------------------------
//
// Which sockets to make, with which flags and options, is decided in
// harness/os.ts; these only convert arguments. Socket addresses cross as
// { family: 'inet' | 'inet6', host, port } or { family: 'unix', path, abstract }.

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  sockaddr *get() { return reinterpret_cast<sockaddr *>(&ss); }
};

SockAddr address_arg(const Napi::CallbackInfo &info, size_t i) {
  Napi::Env env = info.Env();
  if (!info[i].IsObject()) throw Napi::TypeError::New(env, "argument " + std::to_string(i + 1) + " must be a socket address");
  Napi::Object o = info[i].As<Napi::Object>();
  const std::string family = o.Get("family").As<Napi::String>();
  SockAddr a;
  if (family == "inet" || family == "inet6") {
    const std::string host = o.Get("host").As<Napi::String>();
    const uint16_t port = htons(static_cast<uint16_t>(o.Get("port").As<Napi::Number>().Uint32Value()));
    auto *in = reinterpret_cast<sockaddr_in *>(&a.ss);
    auto *in6 = reinterpret_cast<sockaddr_in6 *>(&a.ss);
    const bool v6 = family == "inet6";
    if (inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(), v6 ? static_cast<void *>(&in6->sin6_addr) : &in->sin_addr) != 1) {
      throw Napi::TypeError::New(env, "not a numeric " + family + " address: " + host);
    }
    if (v6) {
      in6->sin6_family = AF_INET6;
      in6->sin6_port = port;
      a.len = sizeof *in6;
    } else {
      in->sin_family = AF_INET;
      in->sin_port = port;
      a.len = sizeof *in;
    }
  } else if (family == "unix") {
    const std::string path = o.Get("path").As<Napi::String>();
    const bool abstract = o.Get("abstract").ToBoolean();
    auto *un = reinterpret_cast<sockaddr_un *>(&a.ss);
    // An abstract name is a leading NUL and then exactly `path`: the length
    // says where it ends, as libzmq computes it for ipc://@name.
    if (path.size() + 1 > sizeof un->sun_path) throw Napi::RangeError::New(env, "UNIX socket path too long: " + path);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path + (abstract ? 1 : 0), path.data(), path.size());
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  } else {
    throw Napi::TypeError::New(env, "unknown address family: " + family);
  }
  return a;
}

Napi::Value address_value(Napi::Env env, const sockaddr_storage &ss, socklen_t len) {
  Napi::Object o = Napi::Object::New(env);
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
    const bool v6 = ss.ss_family == AF_INET6;
    const auto *in = reinterpret_cast<const sockaddr_in *>(&ss);
    const auto *in6 = reinterpret_cast<const sockaddr_in6 *>(&ss);
    inet_ntop(ss.ss_family, v6 ? static_cast<const void *>(&in6->sin6_addr) : &in->sin_addr, host, sizeof host);
    o.Set("family", v6 ? "inet6" : "inet");
    o.Set("host", host);
    o.Set("port", ntohs(v6 ? in6->sin6_port : in->sin_port));
  } else if (ss.ss_family == AF_UNIX) {
    const auto *un = reinterpret_cast<const sockaddr_un *>(&ss);
    const size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    const bool abstract = n > 0 && un->sun_path[0] == '\0';
    std::string path = abstract ? std::string(un->sun_path + 1, n - 1) : std::string(un->sun_path, strnlen(un->sun_path, n));
    o.Set("family", "unix");
    o.Set("path", path);
    o.Set("abstract", abstract);
  } else {
    o.Set("family", Napi::Number::New(env, ss.ss_family));
  }
  return o;
}

Napi::Value SysSocket(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), check_sys(info.Env(), socket(int_arg(info, 0), int_arg(info, 1), int_arg(info, 2)), "socket"));
}

Napi::Value fd_pair(Napi::Env env, const int (&fds)[2]) {
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, fds[0]);
  out.Set(1u, fds[1]);
  return out;
}

Napi::Value SysSocketpair(const Napi::CallbackInfo &info) {
  int fds[2];
  check_sys(info.Env(), socketpair(AF_UNIX, int_arg(info, 0), 0, fds), "socketpair");
  return fd_pair(info.Env(), fds);
}

Napi::Value SysPipe(const Napi::CallbackInfo &info) {
  int fds[2];
  check_sys(info.Env(), pipe(fds), "pipe");
  return fd_pair(info.Env(), fds);
}

Napi::Value SysSetsockopt(const Napi::CallbackInfo &info) {
  const int value = int_arg(info, 3);
  check_sys(info.Env(), setsockopt(int_arg(info, 0), int_arg(info, 1), int_arg(info, 2), &value, sizeof value), "setsockopt");
  return info.Env().Undefined();
}

// bind() and connect() both take (fd, address). connect() blocks: callers only
// connect to loopback listeners that exist, which the kernel completes against
// the backlog without anyone calling accept().
template <int (*call)(int, const sockaddr *, socklen_t)>
Napi::Value AddressCall(const Napi::CallbackInfo &info, const char *name) {
  SockAddr a = address_arg(info, 1);
  check_sys(info.Env(), call(int_arg(info, 0), a.get(), a.len), name);
  return info.Env().Undefined();
}
Napi::Value SysBind(const Napi::CallbackInfo &info) { return AddressCall<bind>(info, "bind"); }
Napi::Value SysConnect(const Napi::CallbackInfo &info) { return AddressCall<connect>(info, "connect"); }

Napi::Value SysListen(const Napi::CallbackInfo &info) {
  check_sys(info.Env(), listen(int_arg(info, 0), int_arg(info, 1)), "listen");
  return info.Env().Undefined();
}

// accept(), waiting at most `timeout` ms for a connection (ETIMEDOUT after).
Napi::Value SysAccept(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  pollfd p{int_arg(info, 0), POLLIN, 0};
  if (check_sys(env, poll(&p, 1, int_arg(info, 1)), "poll") == 0) throw_errno(env, "accept", ETIMEDOUT);
  return Napi::Number::New(env, check_sys(env, accept(p.fd, nullptr, nullptr), "accept"));
}

Napi::Value SysGetsockname(const Napi::CallbackInfo &info) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  check_sys(info.Env(), getsockname(int_arg(info, 0), reinterpret_cast<sockaddr *>(&ss), &len), "getsockname");
  return address_value(info.Env(), ss, len);
}

// { status: F_GETFL, descriptor: F_GETFD }
Napi::Value SysFcntlFlags(const Napi::CallbackInfo &info) {
  const int fd = int_arg(info, 0);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("status", check_sys(info.Env(), fcntl(fd, F_GETFL), "fcntl(F_GETFL)"));
  out.Set("descriptor", check_sys(info.Env(), fcntl(fd, F_GETFD), "fcntl(F_GETFD)"));
  return out;
}

// open() of a path, e.g. with O_PATH: a descriptor that is open but that socket calls refuse.
Napi::Value SysOpen(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), check_sys(info.Env(), open(string_arg(info, 0).c_str(), int_arg(info, 1)), "open"));
}

Napi::Value SysDup(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), check_sys(info.Env(), dup(int_arg(info, 0)), "dup"));
}

Napi::Value SysDup2(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), check_sys(info.Env(), dup2(int_arg(info, 0), int_arg(info, 1)), "dup2"));
}

Napi::Value SysShutdown(const Napi::CallbackInfo &info) {
  check_sys(info.Env(), shutdown(int_arg(info, 0), int_arg(info, 1)), "shutdown");
  return info.Env().Undefined();
}

Napi::Value SysClose(const Napi::CallbackInfo &info) {
  check_sys(info.Env(), close(int_arg(info, 0)), "close");
  return info.Env().Undefined();
}

// ---- soak and faults: raw byte streams, pipe counts, children ----------------
//
// What tests/soak and tests/faults.test.ts need beyond the calls above: a raw
// peer that writes and reads ZMTP bytes itself, the draft pipes-stats monitor
// (the live connection count), and a child process that execs.

Napi::Value SysWrite(const Napi::CallbackInfo &info) {
  auto data = buffer_arg(info, 1);
  return Napi::Number::New(info.Env(), check_sys(info.Env(), static_cast<int>(write(int_arg(info, 0), data.Data(), data.Length())), "write"));
}

// read() of at most `max` bytes, waiting at most `timeout` ms (ETIMEDOUT
// after); an empty Buffer is end of file.
Napi::Value SysRead(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  pollfd p{int_arg(info, 0), POLLIN, 0};
  if (check_sys(env, poll(&p, 1, int_arg(info, 2)), "poll") == 0) throw_errno(env, "read", ETIMEDOUT);
  std::vector<char> data(static_cast<size_t>(int_arg(info, 1)));
  const int n = check_sys(env, static_cast<int>(read(p.fd, data.data(), data.size())), "read");
  return Napi::Buffer<char>::Copy(env, data.data(), static_cast<size_t>(n));
}

// Bytes waiting to be read on a socket (FIONREAD): lets a test see that the
// reader has taken the last byte it wrote.
Napi::Value SysInq(const Napi::CallbackInfo &info) {
  int n = 0;
  check_sys(info.Env(), ioctl(int_arg(info, 0), FIONREAD, &n), "ioctl(FIONREAD)");
  return Napi::Number::New(info.Env(), n);
}

// SO_LINGER {on, seconds}; {1, 0} makes close() send a RST.
Napi::Value SysSetLinger(const Napi::CallbackInfo &info) {
  const linger value{int_arg(info, 1), int_arg(info, 2)};
  check_sys(info.Env(), setsockopt(int_arg(info, 0), SOL_SOCKET, SO_LINGER, &value, sizeof value), "setsockopt(SO_LINGER)");
  return info.Env().Undefined();
}

// RLIMIT_NOFILE's soft limit; only ever called in a child process.
Napi::Value SysSetNofile(const Napi::CallbackInfo &info) {
  rlimit limit{};
  check_sys(info.Env(), getrlimit(RLIMIT_NOFILE, &limit), "getrlimit");
  limit.rlim_cur = static_cast<rlim_t>(int_arg(info, 0));
  check_sys(info.Env(), setrlimit(RLIMIT_NOFILE, &limit), "setrlimit");
  return info.Env().Undefined();
}

// fork() and execv(argv[0], argv), then waitpid: the exit status, or 128 +
// the signal. A plain fork+exec, as an application does it, so that only
// FD_CLOEXEC decides which descriptors the program inherits.
Napi::Value ForkExec(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "argument 1 must be an argv array");
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<std::string> args;
  for (uint32_t i = 0; i < list.Length(); ++i) args.push_back(list.Get(i).As<Napi::String>().Utf8Value());
  if (args.empty()) throw Napi::TypeError::New(env, "argv is empty");
  std::vector<char *> argv;
  for (auto &a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The program is a probe, not what is tested: a sanitizer runtime preloaded
  // into the harness must not follow it (an uninstrumented shell with the TSan
  // runtime preloaded fails). Built before fork: the child may only exec.
  std::vector<char *> envp;
  for (char **e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, "LD_PRELOAD=", 11) != 0) envp.push_back(*e);
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw_errno(env, "fork");
  if (pid == 0) {
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw_errno(env, "waitpid");
  }
  return Napi::Number::New(env, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

// A draft API function, looked up in the loaded libzmq when first called: a
// libzmq built without drafts (Debian's, or any given to `npm test --
// --library`) does not export it, and a direct call would end the process with
// "symbol lookup error" instead of failing the one test that needs it.
template <typename Fn>
Fn draft_function(const Napi::Env &env, const char *name) {
  // Node loads addons without RTLD_GLOBAL, so RTLD_DEFAULT would not see
  // libzmq: look in the library that zmq_version came from.
  Dl_info dl{};
  void *lib = dladdr(reinterpret_cast<void *>(&zmq_version), &dl) != 0 && dl.dli_fname != nullptr ? dlopen(dl.dli_fname, RTLD_LAZY | RTLD_NOLOAD) : nullptr;
  void *fn = lib != nullptr ? dlsym(lib, name) : nullptr;
  if (fn == nullptr) {
    throw Napi::Error::New(env, std::string(name) + " is not exported by this libzmq (a draft API: built without ENABLE_DRAFTS / --enable-drafts)");
  }
  return reinterpret_cast<Fn>(fn);
}

// zmq_socket_monitor_versioned(s, endpoint, events, 2, ZMQ_PAIR): the v2
// format, which ZMQ_EVENT_PIPES_STATS needs.
Napi::Value SocketMonitorV2(const Napi::CallbackInfo &info) {
  void *s = socket_arg(info);
  const std::string endpoint = string_arg(info, 1);
  const uint64_t events = static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value());
  static const auto versioned = draft_function<decltype(&zmq_socket_monitor_versioned)>(info.Env(), "zmq_socket_monitor_versioned");
  if (versioned(s, endpoint.c_str(), events, 2, ZMQ_PAIR) != 0) throw_errno(info.Env(), "zmq_socket_monitor_versioned");
  return info.Env().Undefined();
}

// zmq_socket_monitor_pipes_stats(): false when the socket has no pipe (EAGAIN,
// decided in the caller's thread, so exact), else true and one
// ZMQ_EVENT_PIPES_STATS per pipe follows on the v2 monitor.
Napi::Value PipesStats(const Napi::CallbackInfo &info) {
  static const auto pipes_stats = draft_function<decltype(&zmq_socket_monitor_pipes_stats)>(info.Env(), "zmq_socket_monitor_pipes_stats");
  if (pipes_stats(socket_arg(info)) == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == EAGAIN) return Napi::Boolean::New(info.Env(), false);
  throw_errno(info.Env(), "zmq_socket_monitor_pipes_stats");
}

// The platform's values, so that TS never hard-codes a number that differs
// between Linux architectures or libcs.
Napi::Object SysConstants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
#define ZMQ_FD_CONSTANT(name) c.Set(#name, Napi::Number::New(env, name))
  ZMQ_FD_CONSTANT(AF_INET);
  ZMQ_FD_CONSTANT(AF_INET6);
  ZMQ_FD_CONSTANT(AF_UNIX);
  ZMQ_FD_CONSTANT(AF_VSOCK);
  ZMQ_FD_CONSTANT(SOCK_STREAM);
  ZMQ_FD_CONSTANT(SOCK_DGRAM);
  ZMQ_FD_CONSTANT(SOCK_SEQPACKET);
  ZMQ_FD_CONSTANT(SOCK_CLOEXEC);
  ZMQ_FD_CONSTANT(SOCK_NONBLOCK);
  ZMQ_FD_CONSTANT(SOL_SOCKET);
  ZMQ_FD_CONSTANT(SO_REUSEADDR);
  ZMQ_FD_CONSTANT(SO_REUSEPORT);
  ZMQ_FD_CONSTANT(IPPROTO_IPV6);
  ZMQ_FD_CONSTANT(IPPROTO_TCP);
  ZMQ_FD_CONSTANT(IPPROTO_MPTCP);
  ZMQ_FD_CONSTANT(TCP_USER_TIMEOUT);
  ZMQ_FD_CONSTANT(SHUT_RDWR);
  ZMQ_FD_CONSTANT(SHUT_RD);
  ZMQ_FD_CONSTANT(SHUT_WR);
  ZMQ_FD_CONSTANT(O_PATH);
  ZMQ_FD_CONSTANT(IPV6_V6ONLY);
  ZMQ_FD_CONSTANT(SOMAXCONN);
  ZMQ_FD_CONSTANT(O_NONBLOCK);
  ZMQ_FD_CONSTANT(FD_CLOEXEC);
#undef ZMQ_FD_CONSTANT
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const struct {
    const char *name;
    Napi::Function::Callback fn;
  } functions[] = {
      {"version", Version},
      {"has", Has},
      {"libraryPath", LibraryPath},
      {"ctxNew", CtxNew},
      {"ctxTerm", CtxTerm},
      {"socket", Socket},
      {"close", Close},
      {"bind", Bind},
      {"connect", Connect},
      {"unbind", Unbind},
      {"disconnect", Disconnect},
      {"setsockoptInt", SetsockoptInt},
      {"setsockoptBytes", SetsockoptBytes},
      {"getsockoptInt", GetsockoptInt},
      {"getsockoptBytes", GetsockoptBytes},
      {"send", Send},
      {"recv", Recv},
      {"poll", Poll},
      {"socketMonitor", SocketMonitor},
      {"curveKeypair", CurveKeypair},
      {"zapStart", ZapStart},
      {"zapStop", ZapStop},
      {"recvProperty", RecvProperty},
      {"sysSocket", SysSocket},
      {"sysSocketpair", SysSocketpair},
      {"sysPipe", SysPipe},
      {"sysSetsockopt", SysSetsockopt},
      {"sysBind", SysBind},
      {"sysListen", SysListen},
      {"sysConnect", SysConnect},
      {"sysAccept", SysAccept},
      {"sysGetsockname", SysGetsockname},
      {"sysFcntlFlags", SysFcntlFlags},
      {"sysOpen", SysOpen},
      {"sysDup", SysDup},
      {"sysDup2", SysDup2},
      {"sysShutdown", SysShutdown},
      {"sysClose", SysClose},
      // soak and faults
      {"sysWrite", SysWrite},
      {"sysRead", SysRead},
      {"sysInq", SysInq},
      {"sysSetLinger", SysSetLinger},
      {"sysSetNofile", SysSetNofile},
      {"forkExec", ForkExec},
      {"socketMonitorV2", SocketMonitorV2},
      {"pipesStats", PipesStats},
  };
  for (const auto &f : functions) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
  exports.Set("sysConstants", SysConstants(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(zmq_fd_harness, Init)
