// Local development chain for agihub: a plain hardhat JSON-RPC node on loopback.
// Contracts are compiled with Vyper from Python and deployed by the SDK, not by hardhat.
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      mining: { auto: true },
      accounts: { count: 10 },
    },
  },
};
