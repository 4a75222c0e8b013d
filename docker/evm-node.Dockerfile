# The local EVM JSON-RPC node (hardhat) for a compose deployment's development chain.
FROM node:20-slim
WORKDIR /node
COPY contracts/evm/package.json contracts/evm/package-lock.json contracts/evm/hardhat.config.cjs ./
RUN npm ci --no-audit --no-fund
ENV HARDHAT_DISABLE_TELEMETRY_PROMPT=true
EXPOSE 8545
CMD ["node_modules/.bin/hardhat", "--config", "hardhat.config.cjs", "node", "--hostname", "0.0.0.0", "--port", "8545"]
