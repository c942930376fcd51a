// Microbenchmark: the time of one Argon2id hash and one verification at the parameters the
// IAM module uses (scripts/bench.sh prints it beside the HTTP figures).
#include "password.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20;
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  };
  std::vector<double> hash_ms, verify_ms;
  std::string phc;
  for (int i = 0; i < rounds; ++i) {
    std::string password = "bench-password-" + std::to_string(i) + "-batik-canting";
    auto t0 = clock::now();
    phc = crm::iam::hash_password(password);
    hash_ms.push_back(ms_since(t0));
    t0 = clock::now();
    bool ok = crm::iam::verify_password(phc, password);
    verify_ms.push_back(ms_since(t0));
    if (!ok) {
      std::fprintf(stderr, "password_bench: a fresh hash did not verify\n");
      return 1;
    }
  }
  std::sort(hash_ms.begin(), hash_ms.end());
  std::sort(verify_ms.begin(), verify_ms.end());
  // "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>": the parameters, without salt and hash.
  std::size_t cut = 0;
  for (int dollars = 0; cut < phc.size() && dollars < 4; ++cut) dollars += phc[cut] == '$';
  std::printf("parameters %s\n", phc.substr(0, cut > 0 ? cut - 1 : 0).c_str());
  std::printf("hash_median_ms %.1f\nverify_median_ms %.1f\nrounds %d\n", hash_ms[hash_ms.size() / 2],
              verify_ms[verify_ms.size() / 2], rounds);
  return 0;
}
