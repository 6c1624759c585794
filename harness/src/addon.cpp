// Thin Node-API wrapper over the libzmq C API for zmq-fd's tests.
//
// Policy lives in harness/index.ts (timeouts, option names, socket tracking);
// this file only converts arguments, calls libzmq or the OS, and turns errno
// into a JS Error with `code` (errno name), `errno` and `syscall`.

#include <napi.h>
#include <zmq.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

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

Napi::Value Bind(const Napi::CallbackInfo &info) {
  if (zmq_bind(socket_arg(info), string_arg(info, 1).c_str()) != 0) throw_errno(info.Env(), "zmq_bind");
  return info.Env().Undefined();
}

Napi::Value Connect(const Napi::CallbackInfo &info) {
  if (zmq_connect(socket_arg(info), string_arg(info, 1).c_str()) != 0) throw_errno(info.Env(), "zmq_connect");
  return info.Env().Undefined();
}

Napi::Value SetsockoptInt(const Napi::CallbackInfo &info) {
  int value = int_arg(info, 2);
  if (zmq_setsockopt(socket_arg(info), int_arg(info, 1), &value, sizeof value) != 0) throw_errno(info.Env(), "zmq_setsockopt");
  return info.Env().Undefined();
}

Napi::Value GetsockoptInt(const Napi::CallbackInfo &info) {
  int value = 0;
  size_t size = sizeof value;
  if (zmq_getsockopt(socket_arg(info), int_arg(info, 1), &value, &size) != 0) throw_errno(info.Env(), "zmq_getsockopt");
  return Napi::Number::New(info.Env(), value);
}

Napi::Value GetsockoptString(const Napi::CallbackInfo &info) {
  char value[1024] = {};
  size_t size = sizeof value;
  if (zmq_getsockopt(socket_arg(info), int_arg(info, 1), value, &size) != 0) throw_errno(info.Env(), "zmq_getsockopt");
  return Napi::String::New(info.Env(), value);  // libzmq includes the terminating NUL
}

Napi::Value Send(const Napi::CallbackInfo &info) {
  if (!info[1].IsBuffer()) throw Napi::TypeError::New(info.Env(), "argument 2 must be a Buffer");
  auto data = info[1].As<Napi::Buffer<uint8_t>>();
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

// ---- raw file descriptors, for fd:// endpoints ----------------------------

Napi::Value Socketpair(const Napi::CallbackInfo &info) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw_errno(info.Env(), "socketpair");
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, fds[0]);
  out.Set(1u, fds[1]);
  return out;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// A listening TCP socket on 127.0.0.1 and an ephemeral port: { fd, port }.
Napi::Value ListenTcp(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno(env, "socket");
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof addr;
  const char *failed = nullptr;
  if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) failed = "bind";
  else if (listen(fd, SOMAXCONN) != 0) failed = "listen";
  else if (getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0) failed = "getsockname";
  if (failed != nullptr) {
    int err = errno;
    close(fd);
    throw_errno(env, failed, err);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", fd);
  out.Set("port", ntohs(addr.sin_port));
  return out;
}

// A TCP socket connected to 127.0.0.1:port (the kernel completes the handshake
// against the listen backlog, so this returns without anyone calling accept).
Napi::Value ConnectTcp(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int port = int_arg(info, 0);
  if (port <= 0 || port > 65535) throw Napi::RangeError::New(env, "port must be 1..65535");
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno(env, "socket");
  sockaddr_in addr = loopback(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    int err = errno;
    close(fd);
    throw_errno(env, "connect", err);
  }
  return Napi::Number::New(env, fd);
}

Napi::Value CloseFd(const Napi::CallbackInfo &info) {
  if (close(int_arg(info, 0)) != 0) throw_errno(info.Env(), "close");
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const struct {
    const char *name;
    Napi::Function::Callback fn;
  } functions[] = {
      {"version", Version},     {"has", Has},           {"libraryPath", LibraryPath},
      {"ctxNew", CtxNew},       {"ctxTerm", CtxTerm},   {"socket", Socket},
      {"close", Close},         {"bind", Bind},         {"connect", Connect},
      {"setsockoptInt", SetsockoptInt},                 {"getsockoptInt", GetsockoptInt},
      {"getsockoptString", GetsockoptString},           {"send", Send},
      {"recv", Recv},           {"poll", Poll},         {"socketpair", Socketpair},
      {"listenTcp", ListenTcp}, {"connectTcp", ConnectTcp},
      {"closeFd", CloseFd},
  };
  for (const auto &f : functions) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
  return exports;
}

}  // namespace

NODE_API_MODULE(zmq_fd_harness, Init)
