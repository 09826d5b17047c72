# One image for every gridgame service (docker-compose.yml). Contracts are compiled in a Node
# stage with the same toolchain as `make contracts` (Forge + solcjs through tools/solc).
FROM node:20-bookworm-slim AS contracts
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --loglevel=error
COPY foundry.toml ./
COPY tools ./tools
COPY ledger_contracts/src ./ledger_contracts/src
RUN node_modules/@foundry-rs/forge-linux-*/bin/forge build --offline --use ./tools/solc \
 && test -f build/forge/Market.sol/Market.json

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gridgame ./gridgame
COPY ledger_contracts ./ledger_contracts
COPY optimizer ./optimizer
COPY tx_queue ./tx_queue
COPY market_clock ./market_clock
COPY prosumer_client ./prosumer_client
COPY demo ./demo
COPY meter_gateway ./meter_gateway
RUN pip install --no-cache-dir -e .
COPY --from=contracts /src/build/forge ./build/forge
ENV PYTHONUNBUFFERED=1
CMD ["python", "-m", "demo", "--help"]
