//  Replays one input file through a libzmq fuzzer's LLVMFuzzerTestOneInput,
//  without libFuzzer, so that `npm test` can replay the committed corpus with
//  the release build and g++ (no clang in CI).
//
//  Compiled together with tests/<fuzzer>.cpp of the patched tree, whose own
//  main () (the ctest mode, when ZMQ_USE_FUZZING_ENGINE is not defined) is
//  renamed on the command line (-Dmain=...): defining ZMQ_USE_FUZZING_ENGINE
//  instead would pull in clang's <fuzzer/FuzzedDataProvider.h>.
//
//  The input runs as a Unity test, so that a failed TEST_ASSERT in the fuzzer
//  prints its message and fails the run instead of longjmp-ing into an unset
//  frame. A crash or an abort ends the process, which the caller sees too.

#include "testutil.hpp"
#include "testutil_unity.hpp"

#include <stdio.h>

#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput (const uint8_t *data_, size_t size_);

static std::vector<uint8_t> input;

static void replay ()
{
    //  A fuzzer returns non-zero to reject an input from the corpus.
    TEST_ASSERT_EQUAL_INT (0, LLVMFuzzerTestOneInput (input.data (),
                                                      input.size ()));
}

int main (int argc_, char **argv_)
{
    if (argc_ != 2) {
        fprintf (stderr, "usage: %s <input file>\n", argv_[0]);
        return 2;
    }
    std::ifstream file (argv_[1], std::ios::binary);
    if (!file) {
        fprintf (stderr, "%s: cannot read %s\n", argv_[0], argv_[1]);
        return 2;
    }
    input.assign (std::istreambuf_iterator<char> (file),
                  std::istreambuf_iterator<char> ());
    setup_test_environment ();
    UNITY_BEGIN ();
    UnityDefaultTestRun (replay, argv_[1], __LINE__);
    return UNITY_END ();
}
