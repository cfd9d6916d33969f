"""What the tests and the benchmarks share: sample claims and policies, the harness that runs claims on a
Temporal test server, the HTTP stack in processes, and the state machines over the decision core and over real
claims. Development code: it needs hypothesis and the test servers, which the product does not; nothing in the
product imports it."""
