//  Linked into the libFuzzer builds of libzmq's fuzzers by scripts/fuzz.ts,
//  with -Wl,--wrap=LLVMFuzzerTestOneInput -Wl,--wrap=zmq_ctx_term: what
//  running them under libFuzzer needs, and their ctest mode does not.

#include "unity.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern "C" {
int __real_LLVMFuzzerTestOneInput (const uint8_t *data_, size_t size_);
int __real_zmq_ctx_term (void *context_);

//  The fuzzers check with Unity's TEST_ASSERT, which on failure longjmps to
//  Unity.AbortFrame: a frame that only Unity's test runner sets, and
//  libFuzzer's main does not run it. The jump to the unset frame loads a
//  garbage stack pointer, the crash handler then faults too, and libFuzzer
//  saves no input: a failed assertion (a wrong errno, a descriptor changed)
//  is lost. This sets the frame around each input and turns a failed
//  assertion into abort (), which libFuzzer reports with the input.
int __wrap_LLVMFuzzerTestOneInput (const uint8_t *data_, size_t size_)
{
    Unity.CurrentTestName = "LLVMFuzzerTestOneInput";
    if (setjmp (Unity.AbortFrame) == 0)
        return __real_LLVMFuzzerTestOneInput (data_, size_);
    //  Unity printed the failed assertion to stdout, which is buffered.
    fputs ("\nzmq-fd: a TEST_ASSERT failed; aborting so that libFuzzer "
           "saves the input\n",
           stdout);
    fflush (stdout);
    abort ();
}

//  libFuzzer's -timeout raises SIGALRM in the fuzzing thread every few
//  seconds, without SA_RESTART, and zmq_ctx_term then fails with EINTR, as
//  zmq_ctx_term(3) says it may ("It can be restarted"). testutil's
//  teardown_test_context asserts that it succeeds, so an input fails at
//  random. The caller's part is to restart it, which this does.
int __wrap_zmq_ctx_term (void *context_)
{
    int rc;
    while ((rc = __real_zmq_ctx_term (context_)) == -1 && errno == EINTR)
        ;
    return rc;
}
}
