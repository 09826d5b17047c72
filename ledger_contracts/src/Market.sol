// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";

import {IMarket} from "./IMarket.sol";
import {ISettlement} from "./ISettlement.sol";
import {BuyerOrder} from "./libraries/BuyerOrder.sol";
import {PackedWords} from "./libraries/PackedWords.sol";

/// @title Market
/// @notice The gridgame market: prosumer registry, grid configuration and the turn-based game.
/// @dev Storage per game: one slot each for params, price snapshot and status; offers and
/// demands one slot each; capacities, loads and bids as eight uint32 lanes per word; the turn
/// order as sixteen uint16 registration indices per word. A bid touches O(sellers / 8) words.
contract Market is IMarket, AccessControl, ERC2771Context {
    using PackedWords for uint256;

    /// @inheritdoc IMarket
    bytes32 public constant CLOCK_ROLE = keccak256("CLOCK_ROLE");
    /// @inheritdoc IMarket
    bytes32 public constant METER_ROLE = keccak256("METER_ROLE");
    /// @inheritdoc IMarket
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");
    /// @inheritdoc IMarket
    uint256 public constant MAX_AMOUNT_WH = type(uint32).max;
    /// @inheritdoc IMarket
    uint256 public constant MAX_SELLERS = 1024;
    /// @inheritdoc IMarket
    uint256 public constant MAX_BUYERS = 1024;

    /// @dev 0.02 token per kWh per hop, the design's default.
    uint64 private constant _DEFAULT_TRANSMISSION_FEE = 20_000;
    /// @dev A participant entry is `index << 2 | role`.
    uint256 private constant _ROLE_BITS = 2;
    uint256 private constant _ROLE_MASK = 3;
    uint256 private constant _SELLER = uint256(Role.Seller);
    uint256 private constant _BUYER = uint256(Role.Buyer);

    /// @dev `GameStatus` plus a copy of `params.turnDeadline`, so a turn reads one slot: 256 bits.
    struct Status {
        Phase phase;
        EndReason endReason;
        uint16 sellerCount;
        uint16 buyerCount;
        uint32 round;
        uint16 turn;
        uint64 turnDeadline;
        uint64 roundMaxChange;
        uint32 turnSeconds;
    }

    struct GameData {
        GameParams params;
        GamePrices prices;
        Status status;
        mapping(uint256 index => Offer) offers;
        mapping(uint256 index => Demand) demands;
        mapping(address account => uint256 entry) participants;
        mapping(uint256 word => uint256) capacityWords;
        mapping(uint256 word => uint256) loadWords;
        mapping(uint256 word => uint256) orderWords;
        mapping(uint256 key => uint256) bidWords; // key = demand index << 16 | word
    }

    mapping(address account => Prosumer) private _prosumers;
    mapping(bytes32 meterId => address) private _meterHolders;
    mapping(uint256 word => uint256) private _hopWords;
    mapping(uint256 gameId => GameData) private _games;
    uint32 private _admissionCount;
    uint16 private _zoneCount;
    uint16 private _zonesInUse;
    uint64 private _retailPrice;
    uint64 private _feedInPrice;
    uint64 private _transmissionFee;
    uint256 private _gameCount;
    address private _settlement;

    /// @param operator Receives `DEFAULT_ADMIN_ROLE` and grants the other roles.
    /// @param trustedForwarder The `GridForwarder` relaying signed requests.
    constructor(address operator, address trustedForwarder) ERC2771Context(trustedForwarder) {
        _grantRole(DEFAULT_ADMIN_ROLE, operator);
        _zoneCount = 1;
        _transmissionFee = _DEFAULT_TRANSMISSION_FEE;
        emit TransmissionFeeSet(_DEFAULT_TRANSMISSION_FEE);
    }

    // =============================================================== operator

    /// @inheritdoc IMarket
    function admit(address account, bytes32 meterId, uint16 zone) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (account == address(0)) revert MarketInvalidProsumer(account);
        if (meterId == bytes32(0)) revert MarketZeroMeterId();
        Prosumer storage p = _prosumers[account];
        if (p.admitted) revert MarketAlreadyAdmitted(account);
        address holder = _meterHolders[meterId];
        if (holder != address(0) && holder != account) revert MarketMeterIdTaken(meterId, holder);
        if (zone >= _zoneCount) revert MarketZoneOutOfRange(zone, _zoneCount);

        if (p.meterId != meterId) {
            delete _meterHolders[p.meterId]; // a re-admitted prosumer moving to a new meter frees the old one
            _meterHolders[meterId] = account;
            p.meterId = meterId;
        }
        uint32 index = ++_admissionCount;
        p.zone = zone;
        p.admitted = true;
        p.admissionIndex = index;
        if (zone >= _zonesInUse) _zonesInUse = zone + 1;
        emit ProsumerAdmitted(account, meterId, zone, index);
    }

    /// @inheritdoc IMarket
    function revoke(address account) external onlyRole(DEFAULT_ADMIN_ROLE) {
        Prosumer storage p = _prosumers[account];
        if (!p.admitted) revert MarketNotAdmitted(account);
        p.admitted = false;
        emit ProsumerRevoked(account);
    }

    /// @inheritdoc IMarket
    function setHopDistances(uint16 count, uint16[] calldata distances) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (count == 0) revert MarketZeroZoneCount();
        if (count < _zonesInUse) revert MarketZonesInUse(count, _zonesInUse);
        uint256 n = count;
        if (distances.length != n * n) revert MarketHopDistancesLength(n * n, distances.length);
        for (uint256 i; i < n; ++i) {
            if (distances[i * n + i] != 0) revert MarketHopDistanceNonZeroDiagonal(i, distances[i * n + i]);
            for (uint256 j = i + 1; j < n; ++j) {
                if (distances[i * n + j] != distances[j * n + i]) revert MarketHopDistanceAsymmetric(i, j);
            }
        }
        uint256 word;
        for (uint256 k; k < distances.length; ++k) {
            uint256 lane = k % PackedWords.U16_LANES;
            word = word.setU16(lane, distances[k]);
            if (lane == PackedWords.U16_LANES - 1 || k + 1 == distances.length) {
                _hopWords[k / PackedWords.U16_LANES] = word;
                word = 0;
            }
        }
        _zoneCount = count;
        emit HopDistancesSet(count, distances);
    }

    /// @inheritdoc IMarket
    function setGridPrices(uint256 retail, uint256 feedIn) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feedIn >= retail || retail > type(uint64).max) revert MarketInvalidGridPrices(retail, feedIn);
        // Safe casts: feedIn < retail <= type(uint64).max was just checked.
        // forge-lint: disable-next-line(unsafe-typecast)
        _retailPrice = uint64(retail);
        // forge-lint: disable-next-line(unsafe-typecast)
        _feedInPrice = uint64(feedIn);
        emit GridPricesSet(retail, feedIn);
    }

    /// @inheritdoc IMarket
    function setTransmissionFee(uint256 feePerHop) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feePerHop > type(uint64).max) revert MarketPriceTooLarge(feePerHop, type(uint64).max);
        // Safe cast: checked just above.
        // forge-lint: disable-next-line(unsafe-typecast)
        _transmissionFee = uint64(feePerHop);
        emit TransmissionFeeSet(feePerHop);
    }

    /// @inheritdoc IMarket
    function setSettlement(address settlement_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_settlement != address(0)) revert MarketSettlementAlreadySet(_settlement);
        if (settlement_ == address(0)) revert MarketInvalidSettlement(settlement_);
        if (_gameCount != 0) revert MarketSettlementAfterGames(_gameCount);
        _settlement = settlement_;
        _grantRole(SETTLEMENT_ROLE, settlement_);
        emit SettlementSet(settlement_);
    }

    // =============================================================== settlement

    /// @inheritdoc IMarket
    function recordMetering(address account, uint256 producedWh, uint256 consumedWh)
        external
        onlyRole(SETTLEMENT_ROLE)
    {
        Prosumer storage p = _prosumers[account];
        if (p.admissionIndex == 0) revert MarketUnknownProsumer(account);
        uint256 max = type(uint96).max;
        if (producedWh > max - p.producedWh || consumedWh > max - p.consumedWh) {
            revert MarketMeteringOverflow(account, producedWh, consumedWh);
        }
        // Cannot overflow: both sums were just checked to stay within uint96.
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast)
            p.producedWh += uint96(producedWh);
            // forge-lint: disable-next-line(unsafe-typecast)
            p.consumedWh += uint96(consumedWh);
        }
        emit MeteringRecorded(account, producedWh, consumedWh);
    }

    // =============================================================== clock

    /// @inheritdoc IMarket
    function openGame(GameParams calldata params) external onlyRole(CLOCK_ROLE) returns (uint256 gameId) {
        if (params.registrationEnd <= block.timestamp) {
            revert MarketRegistrationEndNotInFuture(params.registrationEnd, block.timestamp);
        }
        if (params.deliveryEnd <= params.registrationEnd) {
            revert MarketDeliveryEndBeforeRegistrationEnd(params.deliveryEnd, params.registrationEnd);
        }
        if (params.roundLimit == 0) revert MarketZeroRoundLimit();
        if (params.turnDeadline == 0) revert MarketZeroTurnDeadline();
        if (_retailPrice == 0) revert MarketGridPricesNotSet();

        gameId = ++_gameCount;
        GameData storage g = _games[gameId];
        g.params = params;
        g.prices = GamePrices(_retailPrice, _feedInPrice, _transmissionFee);
        g.status.phase = Phase.Registration;
        g.status.turnSeconds = params.turnDeadline;
        emit GameOpened(
            gameId, params.registrationEnd, params.deliveryEnd, params.roundLimit, params.turnDeadline, params.epsilon
        );
    }

    /// @inheritdoc IMarket
    function closeRegistration(uint256 gameId) external onlyRole(CLOCK_ROLE) {
        GameData storage g = _games[gameId];
        Status memory s = g.status;
        if (s.phase != Phase.Registration) revert MarketWrongPhase(gameId, Phase.Registration, s.phase);
        uint256 registrationEnd = g.params.registrationEnd;
        if (block.timestamp < registrationEnd) {
            revert MarketRegistrationWindowOpen(gameId, registrationEnd, block.timestamp);
        }

        if (s.sellerCount == 0 || s.buyerCount == 0) {
            s.phase = Phase.Converged;
            s.endReason = EndReason.NoParticipants;
            g.status = s;
            emit RegistrationClosed(gameId, s.sellerCount, s.buyerCount);
            emit GameEnded(gameId, 0, EndReason.NoParticipants);
            return;
        }

        uint256 buyerCount = s.buyerCount;
        uint256[] memory keys = new uint256[](buyerCount);
        for (uint256 i; i < buyerCount; ++i) {
            Prosumer storage p = _prosumers[g.demands[i].buyer];
            keys[i] = BuyerOrder.key(p.producedWh, p.consumedWh, p.admissionIndex, i);
        }
        BuyerOrder.sort(keys);
        uint256 word;
        for (uint256 position; position < buyerCount; ++position) {
            uint256 lane = position % PackedWords.U16_LANES;
            word = word.setU16(lane, BuyerOrder.registrationIndex(keys[position]));
            if (lane == PackedWords.U16_LANES - 1 || position + 1 == buyerCount) {
                g.orderWords[position / PackedWords.U16_LANES] = word;
                word = 0;
            }
        }

        s.phase = Phase.Bidding;
        s.round = 1;
        emit RegistrationClosed(gameId, s.sellerCount, buyerCount);
        _startTurn(gameId, g, s);
    }

    /// @inheritdoc IMarket
    function skipTurn(uint256 gameId) external onlyRole(CLOCK_ROLE) {
        GameData storage g = _games[gameId];
        Status memory s = g.status;
        if (s.phase != Phase.Bidding) revert MarketWrongPhase(gameId, Phase.Bidding, s.phase);
        if (block.timestamp <= s.turnDeadline) revert MarketTurnNotExpired(gameId, s.turnDeadline, block.timestamp);
        emit TurnSkipped(gameId, g.demands[_orderAt(g, s.turn)].buyer, s.round);
        _endTurn(gameId, g, s, 0);
    }

    // =============================================================== prosumers

    /// @inheritdoc IMarket
    function publishOffer(uint256 gameId, uint256 wh, uint256 price) external {
        (GameData storage g, address seller, uint256 index) = _checkRegistration(gameId, wh, _SELLER);
        uint256 retail = g.prices.retail;
        if (price == 0 || price >= retail) revert MarketInvalidOfferPrice(price, retail);
        if (index >= MAX_SELLERS) revert MarketGameFull(gameId, MAX_SELLERS);

        g.participants[seller] = (index << _ROLE_BITS) | _SELLER;
        // Safe casts: wh <= MAX_AMOUNT_WH (uint32), price < retail (uint64), index < MAX_SELLERS (< 2^16).
        // forge-lint: disable-next-line(unsafe-typecast)
        g.offers[index] = Offer(seller, uint32(wh), uint64(price));
        uint256 w = index / PackedWords.U32_LANES;
        g.capacityWords[w] = g.capacityWords[w].setU32(index % PackedWords.U32_LANES, wh);
        // forge-lint: disable-next-line(unsafe-typecast)
        g.status.sellerCount = uint16(index + 1);
        emit OfferPublished(gameId, seller, index, wh, price);
    }

    /// @inheritdoc IMarket
    function publishDemand(uint256 gameId, uint256 wh) external {
        (GameData storage g, address buyer, uint256 index) = _checkRegistration(gameId, wh, _BUYER);
        if (index >= MAX_BUYERS) revert MarketGameFull(gameId, MAX_BUYERS);

        g.participants[buyer] = (index << _ROLE_BITS) | _BUYER;
        // Safe casts: wh <= MAX_AMOUNT_WH (uint32), index < MAX_BUYERS (< 2^16).
        // forge-lint: disable-next-line(unsafe-typecast)
        g.demands[index] = Demand(buyer, uint32(wh));
        // forge-lint: disable-next-line(unsafe-typecast)
        g.status.buyerCount = uint16(index + 1);
        emit DemandPublished(gameId, buyer, index, wh);
        address settlement_ = _settlement;
        if (settlement_ != address(0)) ISettlement(settlement_).escrowDemand(gameId, buyer, wh);
    }

    /// @inheritdoc IMarket
    function bid(uint256 gameId, uint256[] calldata whPerSeller) external {
        (GameData storage g, Status memory s, uint256 buyerIndex, address buyer) = _checkTurn(gameId);
        uint256 sellerCount = s.sellerCount;
        if (whPerSeller.length != sellerCount) revert MarketBidLengthMismatch(sellerCount, whPerSeller.length);
        uint256 total;
        for (uint256 j; j < sellerCount; ++j) {
            // Cannot overflow: a sum that wraps is replaced by the largest uint256 (saturation).
            unchecked {
                uint256 sum = total + whPerSeller[j];
                total = sum < total ? type(uint256).max : sum;
            }
        }
        uint256 demand = g.demands[buyerIndex].wh;
        if (total > demand) revert MarketBidExceedsDemand(total, demand);

        uint256 change = _applyBid(g, buyerIndex << 16, whPerSeller);
        emit BidSubmitted(gameId, buyer, s.round, whPerSeller);
        _endTurn(gameId, g, s, change);
    }

    /// @inheritdoc IMarket
    function stand(uint256 gameId) external {
        (GameData storage g, Status memory s,, address buyer) = _checkTurn(gameId);
        emit BidStood(gameId, buyer, s.round);
        _endTurn(gameId, g, s, 0);
    }

    // =============================================================== views

    /// @inheritdoc IMarket
    function settlement() external view returns (address) {
        return _settlement;
    }

    /// @inheritdoc IMarket
    function prosumer(address account) external view returns (Prosumer memory) {
        return _prosumers[account];
    }

    /// @inheritdoc IMarket
    function meterHolder(bytes32 meterId) external view returns (address) {
        return _meterHolders[meterId];
    }

    /// @inheritdoc IMarket
    function admissionCount() external view returns (uint256) {
        return _admissionCount;
    }

    /// @inheritdoc IMarket
    function zoneCount() external view returns (uint256) {
        return _zoneCount;
    }

    /// @inheritdoc IMarket
    function hopDistance(uint256 from, uint256 to) public view returns (uint256) {
        uint256 n = _zoneCount;
        if (from >= n) revert MarketZoneOutOfRange(from, n);
        if (to >= n) revert MarketZoneOutOfRange(to, n);
        uint256 k = from * n + to;
        return _hopWords[k / PackedWords.U16_LANES].getU16(k % PackedWords.U16_LANES);
    }

    /// @inheritdoc IMarket
    function hopDistanceBetween(address a, address b) external view returns (uint256) {
        return hopDistance(_knownZone(a), _knownZone(b));
    }

    /// @inheritdoc IMarket
    function hopDistances() external view returns (uint16 count, uint16[] memory distances) {
        count = _zoneCount;
        uint256 nn = uint256(count) * count;
        distances = new uint16[](nn);
        for (uint256 k; k < nn; ++k) {
            distances[k] = uint16(_hopWords[k / PackedWords.U16_LANES].getU16(k % PackedWords.U16_LANES));
        }
    }

    /// @inheritdoc IMarket
    function gridPrices() external view returns (uint256 retail, uint256 feedIn) {
        return (_retailPrice, _feedInPrice);
    }

    /// @inheritdoc IMarket
    function transmissionFee() external view returns (uint256) {
        return _transmissionFee;
    }

    /// @inheritdoc IMarket
    function gameCount() external view returns (uint256) {
        return _gameCount;
    }

    /// @inheritdoc IMarket
    function game(uint256 gameId)
        external
        view
        returns (GameParams memory params, GamePrices memory prices, GameStatus memory status)
    {
        GameData storage g = _games[gameId];
        return (g.params, g.prices, _gameStatus(g.status));
    }

    /// @inheritdoc IMarket
    function phase(uint256 gameId) external view returns (Phase) {
        return _games[gameId].status.phase;
    }

    /// @inheritdoc IMarket
    function gameState(uint256 gameId) external view returns (GameState memory state) {
        GameData storage g = _games[gameId];
        state.status = _gameStatus(g.status);
        uint256 sellerCount = state.status.sellerCount;
        state.loads = _unpackU32(g.loadWords, 0, sellerCount);
        if (state.status.phase == Phase.Bidding) {
            uint256 buyerIndex = _orderAt(g, state.status.turn);
            state.currentBuyer = g.demands[buyerIndex].buyer;
            state.currentBid = _unpackU32(g.bidWords, buyerIndex << 16, sellerCount);
        }
    }

    /// @inheritdoc IMarket
    function offers(uint256 gameId) external view returns (Offer[] memory list) {
        GameData storage g = _games[gameId];
        list = new Offer[](g.status.sellerCount);
        for (uint256 j; j < list.length; ++j) {
            list[j] = g.offers[j];
        }
    }

    /// @inheritdoc IMarket
    function demands(uint256 gameId) external view returns (Demand[] memory list) {
        GameData storage g = _games[gameId];
        list = new Demand[](g.status.buyerCount);
        bool ordered = g.status.round != 0;
        for (uint256 i; i < list.length; ++i) {
            list[i] = g.demands[ordered ? _orderAt(g, i) : i];
        }
    }

    /// @inheritdoc IMarket
    function participant(uint256 gameId, address account) external view returns (Role role, uint256 index) {
        uint256 entry = _games[gameId].participants[account];
        return (Role(entry & _ROLE_MASK), entry >> _ROLE_BITS);
    }

    /// @inheritdoc IMarket
    function bidOf(uint256 gameId, address buyer) external view returns (uint256[] memory) {
        GameData storage g = _games[gameId];
        uint256 entry = g.participants[buyer];
        if (entry & _ROLE_MASK != uint256(Role.Buyer)) revert MarketNotBuyer(gameId, buyer);
        return _unpackU32(g.bidWords, (entry >> _ROLE_BITS) << 16, g.status.sellerCount);
    }

    /// @inheritdoc IMarket
    function allocation(uint256 gameId) external view returns (uint256[][] memory rows) {
        GameData storage g = _games[gameId];
        rows = new uint256[][](g.status.buyerCount);
        bool ordered = g.status.round != 0;
        for (uint256 i; i < rows.length; ++i) {
            rows[i] = _unpackU32(g.bidWords, (ordered ? _orderAt(g, i) : i) << 16, g.status.sellerCount);
        }
    }

    /// @inheritdoc IMarket
    function hopsToSellers(uint256 gameId, address account) external view returns (uint256[] memory hops) {
        GameData storage g = _games[gameId];
        uint256 zone = _knownZone(account);
        hops = new uint256[](g.status.sellerCount);
        for (uint256 j; j < hops.length; ++j) {
            hops[j] = hopDistance(zone, _prosumers[g.offers[j].seller].zone);
        }
    }

    // =============================================================== internals

    /// @dev Checks a registration of `wh` Wh by the caller in `gameId`; returns the game, the
    /// caller and its index among the game's sellers or buyers (per `role`).
    function _checkRegistration(uint256 gameId, uint256 wh, uint256 role)
        private
        view
        returns (GameData storage g, address account, uint256 index)
    {
        account = _msgSender();
        if (!_prosumers[account].admitted) revert MarketNotAdmitted(account);
        g = _games[gameId];
        Phase current = g.status.phase;
        if (current != Phase.Registration) revert MarketWrongPhase(gameId, Phase.Registration, current);
        uint256 registrationEnd = g.params.registrationEnd;
        if (block.timestamp >= registrationEnd) {
            revert MarketRegistrationWindowClosed(gameId, registrationEnd, block.timestamp);
        }
        if (g.participants[account] != 0) revert MarketAlreadyRegistered(gameId, account);
        if (wh == 0) revert MarketZeroAmount();
        if (wh > MAX_AMOUNT_WH) revert MarketAmountTooLarge(wh, MAX_AMOUNT_WH);

        index = role == _SELLER ? g.status.sellerCount : g.status.buyerCount;
    }

    /// @dev Checks that the caller may play the current turn of `gameId` now.
    function _checkTurn(uint256 gameId)
        private
        view
        returns (GameData storage g, Status memory s, uint256 buyerIndex, address buyer)
    {
        address caller = _msgSender();
        if (!_prosumers[caller].admitted) revert MarketNotAdmitted(caller);
        g = _games[gameId];
        s = g.status;
        if (s.phase != Phase.Bidding) revert MarketWrongPhase(gameId, Phase.Bidding, s.phase);
        buyerIndex = _orderAt(g, s.turn);
        buyer = g.demands[buyerIndex].buyer;
        if (caller != buyer) {
            if (g.participants[caller] & _ROLE_MASK != _BUYER) revert MarketNotBuyer(gameId, caller);
            revert MarketNotYourTurn(gameId, buyer, caller);
        }
        if (block.timestamp > s.turnDeadline) revert MarketTurnExpired(gameId, s.turnDeadline, block.timestamp);
    }

    /// @dev Replaces the bid stored from word key `base` by `amounts`, updating every seller's load
    /// and checking its capacity; returns the largest |new - old| entry. The caller has checked
    /// the length and that the total is within the demand, so every amount is below 2^32.
    function _applyBid(GameData storage g, uint256 base, uint256[] calldata amounts) private returns (uint256 change) {
        uint256 words = PackedWords.u32Words(amounts.length);
        for (uint256 w; w < words; ++w) {
            uint256 newBids = _packWord(amounts, w);
            uint256 oldBids = g.bidWords[base + w];
            if (newBids == oldBids) continue; // loads unchanged, so still within capacity
            (uint256 newLoads, uint256 wordChange) =
                _loadsAfter(w, oldBids, newBids, g.loadWords[w], g.capacityWords[w]);
            if (wordChange > change) change = wordChange;
            g.bidWords[base + w] = newBids;
            g.loadWords[w] = newLoads;
        }
    }

    /// @dev Word number `w` of `amounts` packed as uint32 lanes (every amount is below 2^32).
    function _packWord(uint256[] calldata amounts, uint256 w) private pure returns (uint256 word) {
        uint256 first = w * PackedWords.U32_LANES;
        uint256 end = first + PackedWords.U32_LANES;
        if (end > amounts.length) end = amounts.length;
        for (uint256 j = first; j < end; ++j) {
            word = word.setU32(j - first, amounts[j]);
        }
    }

    /// @dev The load word number `w` once its sellers' bids change from `oldBids` to `newBids`, and
    /// the largest change of a bid entry; reverts if a load would exceed its seller's capacity.
    /// Lanes past the last seller are all zero and stay zero.
    function _loadsAfter(uint256 w, uint256 oldBids, uint256 newBids, uint256 loads, uint256 capacities)
        private
        pure
        returns (uint256 newLoads, uint256 change)
    {
        for (uint256 k; k < PackedWords.U32_LANES; ++k) {
            uint256 amount = newBids.getU32(k);
            uint256 old = oldBids.getU32(k);
            uint256 capacity = capacities.getU32(k);
            // Cannot underflow or overflow: a seller's load is the sum of the current bids on it and
            // never exceeds its capacity (both invariants are kept here and fuzzed), so old <= load
            // and others <= capacity; amount < 2^32 and others + amount <= capacity < 2^32; w < 2^7.
            unchecked {
                uint256 others = loads.getU32(k) - old;
                if (amount > capacity - others) {
                    revert MarketBidExceedsCapacity(w * PackedWords.U32_LANES + k, others + amount, capacity);
                }
                newLoads = newLoads.setU32(k, others + amount);
                uint256 delta = amount > old ? amount - old : old - amount;
                if (delta > change) change = delta;
            }
        }
    }

    /// @dev Ends the current turn, whose largest bid change was `change`: starts the next turn,
    /// the next round, or ends the game (converged, or round limit).
    function _endTurn(uint256 gameId, GameData storage g, Status memory s, uint256 change) private {
        // Safe casts: change < 2^32 (bid entries are below 2^32); next < buyerCount (uint16).
        // forge-lint: disable-next-line(unsafe-typecast)
        if (change > s.roundMaxChange) s.roundMaxChange = uint64(change);
        uint256 next = uint256(s.turn) + 1;
        if (next < s.buyerCount) {
            // forge-lint: disable-next-line(unsafe-typecast)
            s.turn = uint16(next);
        } else if (s.roundMaxChange <= g.params.epsilon) {
            return _end(gameId, g, s, EndReason.Converged);
        } else if (s.round >= g.params.roundLimit) {
            return _end(gameId, g, s, EndReason.RoundLimit);
        } else {
            ++s.round;
            s.turn = 0;
            s.roundMaxChange = 0;
        }
        _startTurn(gameId, g, s);
    }

    /// @dev Stores `s` with a fresh deadline for its turn and announces the turn.
    function _startTurn(uint256 gameId, GameData storage g, Status memory s) private {
        uint256 deadline = block.timestamp + s.turnSeconds;
        // Safe cast: a timestamp plus a uint32 stays far below 2^64.
        // forge-lint: disable-next-line(unsafe-typecast)
        s.turnDeadline = uint64(deadline);
        g.status = s;
        emit TurnStarted(gameId, s.round, g.demands[_orderAt(g, s.turn)].buyer, deadline);
    }

    /// @dev Stores `s` as ended for `reason` and announces it.
    function _end(uint256 gameId, GameData storage g, Status memory s, EndReason reason) private {
        s.phase = Phase.Converged;
        s.endReason = reason;
        g.status = s;
        emit GameEnded(gameId, s.round, reason);
    }

    /// @dev The public view of a stored status.
    function _gameStatus(Status memory s) private pure returns (GameStatus memory) {
        return GameStatus(
            s.phase, s.endReason, s.sellerCount, s.buyerCount, s.round, s.turn, s.turnDeadline, s.roundMaxChange
        );
    }

    /// @dev The demand index of the buyer playing at `position` in turn order.
    function _orderAt(GameData storage g, uint256 position) private view returns (uint256) {
        return g.orderWords[position / PackedWords.U16_LANES].getU16(position % PackedWords.U16_LANES);
    }

    /// @dev The zone of a prosumer that has a record.
    function _knownZone(address account) private view returns (uint256) {
        Prosumer storage p = _prosumers[account];
        if (p.admissionIndex == 0) revert MarketUnknownProsumer(account);
        return p.zone;
    }

    /// @dev `count` uint32 lanes of `words`, starting at word key `base`.
    function _unpackU32(mapping(uint256 => uint256) storage words, uint256 base, uint256 count)
        private
        view
        returns (uint256[] memory values)
    {
        values = new uint256[](count);
        uint256 word;
        for (uint256 j; j < count; ++j) {
            uint256 lane = j % PackedWords.U32_LANES;
            if (lane == 0) word = words[base + j / PackedWords.U32_LANES];
            values[j] = word.getU32(lane);
        }
    }

    // =============================================================== ERC-2771

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
