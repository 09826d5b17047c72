// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarket} from "./IMarket.sol";
import {ISettlement} from "./ISettlement.sol";
import {ProsumerRegistry} from "./ProsumerRegistry.sol";
import {BidLoads} from "./libraries/BidLoads.sol";
import {BuyerOrder} from "./libraries/BuyerOrder.sol";
import {PackedWords} from "./libraries/PackedWords.sol";

/// @title Market
/// @notice The gridgame market: grid configuration and the turn-based game, on top of the
/// prosumer registry (`ProsumerRegistry`: roles, admission, zones, hops).
/// @dev Storage per game: one slot each for params, price snapshot and status; offers and
/// demands one slot each; capacities, loads and bids as eight uint32 lanes per word; the turn
/// order as sixteen uint16 registration indices per word. A bid touches O(sellers / 8) words.
contract Market is ProsumerRegistry {
    using PackedWords for mapping(uint256 => uint256);

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

    struct GameData {
        GameParams params;
        GamePrices prices;
        GameStatus status;
        mapping(uint256 index => Offer) offers;
        mapping(uint256 index => Demand) demands;
        mapping(address account => uint256 entry) participants;
        mapping(uint256 word => uint256) capacityWords;
        mapping(uint256 word => uint256) loadWords;
        mapping(uint256 word => uint256) orderWords;
        mapping(uint256 key => uint256) bidWords; // key = demand index << 16 | word
    }

    mapping(uint256 gameId => GameData) private _games;
    uint64 private _retailPrice;
    uint64 private _feedInPrice;
    uint64 private _transmissionFee;
    uint256 private _gameCount;
    address private _settlement;

    /// @param operator Receives `DEFAULT_ADMIN_ROLE` and grants the other roles.
    /// @param trustedForwarder The `GridForwarder` relaying signed requests.
    constructor(address operator, address trustedForwarder) ProsumerRegistry(operator, trustedForwarder) {
        _transmissionFee = _DEFAULT_TRANSMISSION_FEE;
        emit TransmissionFeeSet(_DEFAULT_TRANSMISSION_FEE);
    }

    // =============================================================== operator

    /// @inheritdoc IMarket
    function setGridPrices(uint256 retail, uint256 feedIn) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feedIn >= retail || retail > type(uint64).max) revert MarketInvalidGridPrices(retail, feedIn);
        // Both fit: feedIn < retail <= type(uint64).max was just checked.
        _retailPrice = SafeCast.toUint64(retail);
        _feedInPrice = SafeCast.toUint64(feedIn);
        emit GridPricesSet(retail, feedIn);
    }

    /// @inheritdoc IMarket
    function setTransmissionFee(uint256 feePerHop) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feePerHop > type(uint64).max) revert MarketPriceTooLarge(feePerHop, type(uint64).max);
        _transmissionFee = SafeCast.toUint64(feePerHop);
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

    // =============================================================== clock

    /// @inheritdoc IMarket
    function openGame(GameParams calldata params) external onlyRole(CLOCK_ROLE) returns (uint256 gameId) {
        if (params.registrationEnd <= block.timestamp) {
            revert MarketRegistrationEndNotInFuture(params.registrationEnd, block.timestamp);
        }
        if (params.deliveryEnd <= params.registrationEnd) {
            revert MarketDeliveryEndBeforeRegistrationEnd(params.deliveryEnd, params.registrationEnd);
        }
        if (params.deliveryEnd > type(uint32).max) {
            revert MarketDeliveryEndTooLate(params.deliveryEnd, type(uint32).max);
        }
        if (params.roundLimit == 0) revert MarketZeroRoundLimit();
        if (params.turnSeconds == 0) revert MarketZeroTurnSeconds();
        if (_retailPrice == 0) revert MarketGridPricesNotSet();

        gameId = ++_gameCount;
        GameData storage g = _games[gameId];
        g.params = params;
        g.prices = GamePrices({retail: _retailPrice, feedIn: _feedInPrice, transmissionFee: _transmissionFee});
        g.status.phase = Phase.Registration;
        g.status.turnSeconds = params.turnSeconds;
        g.status.biddingEnd = SafeCast.toUint32(params.deliveryEnd); // below 2^32: checked above
        emit GameOpened(
            gameId, params.registrationEnd, params.deliveryEnd, params.roundLimit, params.turnSeconds, params.epsilon
        );
    }

    /// @inheritdoc IMarket
    function closeRegistration(uint256 gameId) external onlyRole(CLOCK_ROLE) {
        GameData storage g = _games[gameId];
        GameStatus memory s = g.status;
        if (s.phase != Phase.Registration) revert MarketWrongPhase(gameId, Phase.Registration, s.phase);
        uint256 registrationEnd = g.params.registrationEnd;
        if (block.timestamp < registrationEnd) {
            revert MarketRegistrationWindowOpen(gameId, registrationEnd, block.timestamp);
        }

        EndReason early = s.sellerCount == 0 || s.buyerCount == 0
            ? EndReason.NoParticipants
            : block.timestamp >= s.biddingEnd ? EndReason.TimeLimit : EndReason.None;
        if (early != EndReason.None) {
            emit RegistrationClosed(gameId, s.sellerCount, s.buyerCount);
            return _end(gameId, g, s, early);
        }

        uint256 buyerCount = s.buyerCount;
        uint256[] memory keys = new uint256[](buyerCount);
        for (uint256 i; i < buyerCount; ++i) {
            Prosumer storage p = _prosumer(g.demands[i].buyer);
            keys[i] = BuyerOrder.key(p.producedWh, p.consumedWh, p.admissionIndex, i);
        }
        BuyerOrder.sort(keys);
        for (uint256 position; position < buyerCount; ++position) {
            keys[position] = BuyerOrder.registrationIndex(keys[position]);
        }
        g.orderWords.storeU16s(keys);

        s.phase = Phase.Bidding;
        s.round = 1;
        emit RegistrationClosed(gameId, s.sellerCount, buyerCount);
        _startTurn(gameId, g, s);
    }

    /// @inheritdoc IMarket
    function skipTurn(uint256 gameId) external onlyRole(CLOCK_ROLE) {
        GameData storage g = _games[gameId];
        GameStatus memory s = g.status;
        if (s.phase != Phase.Bidding) revert MarketWrongPhase(gameId, Phase.Bidding, s.phase);
        // A deadline is at most deliveryEnd - 1, so from deliveryEnd on this passes too.
        if (block.timestamp <= s.turnDeadline) revert MarketTurnNotExpired(gameId, s.turnDeadline, block.timestamp);
        emit TurnSkipped(gameId, g.demands[g.orderWords.u16At(s.turn)].buyer, s.round);
        if (block.timestamp >= s.biddingEnd) return _end(gameId, g, s, EndReason.TimeLimit);
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
        // wh <= MAX_AMOUNT_WH (uint32), price < retail (uint64), index < MAX_SELLERS (< 2^16).
        g.offers[index] = Offer({seller: seller, wh: SafeCast.toUint32(wh), price: SafeCast.toUint64(price)});
        uint256 w = index / PackedWords.U32_LANES;
        g.capacityWords[w] = PackedWords.setU32(g.capacityWords[w], index % PackedWords.U32_LANES, wh);
        g.status.sellerCount = SafeCast.toUint16(index + 1);
        emit OfferPublished(gameId, seller, index, wh, price);
    }

    /// @inheritdoc IMarket
    function publishDemand(uint256 gameId, uint256 wh) external {
        (GameData storage g, address buyer, uint256 index) = _checkRegistration(gameId, wh, _BUYER);
        if (index >= MAX_BUYERS) revert MarketGameFull(gameId, MAX_BUYERS);

        g.participants[buyer] = (index << _ROLE_BITS) | _BUYER;
        // wh <= MAX_AMOUNT_WH (uint32), index < MAX_BUYERS (< 2^16).
        g.demands[index] = Demand({buyer: buyer, wh: SafeCast.toUint32(wh)});
        g.status.buyerCount = SafeCast.toUint16(index + 1);
        emit DemandPublished(gameId, buyer, index, wh);
        address settlement_ = _settlement;
        if (settlement_ != address(0)) ISettlement(settlement_).escrowDemand(gameId, buyer, wh);
    }

    /// @inheritdoc IMarket
    function bid(uint256 gameId, uint256 round, uint256 turn, uint256[] calldata whPerSeller) external {
        (GameData storage g, GameStatus memory s, uint256 buyerIndex, address buyer) = _checkTurn(gameId, round, turn);
        // Past the deadline and not refused by `_checkTurn`: the delivery end has come.
        if (block.timestamp > s.turnDeadline) return _end(gameId, g, s, EndReason.TimeLimit);
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
    function stand(uint256 gameId, uint256 round, uint256 turn) external {
        (GameData storage g, GameStatus memory s,, address buyer) = _checkTurn(gameId, round, turn);
        // Past the deadline and not refused by `_checkTurn`: the delivery end has come.
        if (block.timestamp > s.turnDeadline) return _end(gameId, g, s, EndReason.TimeLimit);
        emit BidStood(gameId, buyer, s.round);
        _endTurn(gameId, g, s, 0);
    }

    // =============================================================== views

    /// @inheritdoc IMarket
    function settlement() external view returns (address) {
        return _settlement;
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
        return (g.params, g.prices, g.status);
    }

    /// @inheritdoc IMarket
    function phase(uint256 gameId) external view returns (Phase) {
        return _games[gameId].status.phase;
    }

    /// @inheritdoc IMarket
    function gameState(uint256 gameId) external view returns (GameState memory state) {
        GameData storage g = _games[gameId];
        state.status = g.status;
        uint256 sellerCount = state.status.sellerCount;
        state.loads = g.loadWords.loadU32s(0, sellerCount);
        if (state.status.phase == Phase.Bidding) {
            uint256 buyerIndex = g.orderWords.u16At(state.status.turn);
            state.currentBuyer = g.demands[buyerIndex].buyer;
            state.currentBid = g.bidWords.loadU32s(buyerIndex << 16, sellerCount);
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
            list[i] = g.demands[ordered ? g.orderWords.u16At(i) : i];
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
        return g.bidWords.loadU32s((entry >> _ROLE_BITS) << 16, g.status.sellerCount);
    }

    /// @inheritdoc IMarket
    function allocation(uint256 gameId) external view returns (uint256[][] memory rows) {
        GameData storage g = _games[gameId];
        rows = new uint256[][](g.status.buyerCount);
        bool ordered = g.status.round != 0;
        for (uint256 i; i < rows.length; ++i) {
            rows[i] = g.bidWords.loadU32s((ordered ? g.orderWords.u16At(i) : i) << 16, g.status.sellerCount);
        }
    }

    /// @inheritdoc IMarket
    function hopsToSellers(uint256 gameId, address account) external view returns (uint256[] memory hops) {
        GameData storage g = _games[gameId];
        uint256 zone = _knownZone(account);
        hops = new uint256[](g.status.sellerCount);
        for (uint256 j; j < hops.length; ++j) {
            hops[j] = hopDistance(zone, _prosumer(g.offers[j].seller).zone);
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
        _checkAdmitted(account);
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

    /// @dev Checks that the caller may play turn `turn` of round `round` of `gameId`, and that it
    /// is the current turn. Past the turn's deadline it refuses, unless the game's delivery end
    /// has come: then the caller ends the game (`TimeLimit`).
    function _checkTurn(uint256 gameId, uint256 round, uint256 turn)
        private
        view
        returns (GameData storage g, GameStatus memory s, uint256 buyerIndex, address buyer)
    {
        address caller = _msgSender();
        _checkAdmitted(caller);
        g = _games[gameId];
        s = g.status;
        if (s.phase != Phase.Bidding) revert MarketWrongPhase(gameId, Phase.Bidding, s.phase);
        buyerIndex = g.orderWords.u16At(s.turn);
        buyer = g.demands[buyerIndex].buyer;
        if (caller != buyer && g.participants[caller] & _ROLE_MASK != _BUYER) revert MarketNotBuyer(gameId, caller);
        if (round != s.round || turn != s.turn) revert MarketStaleTurn(gameId, round, turn, s.round, s.turn);
        if (caller != buyer) revert MarketNotYourTurn(gameId, buyer, caller);
        if (block.timestamp > s.turnDeadline && block.timestamp < s.biddingEnd) {
            revert MarketTurnExpired(gameId, s.turnDeadline, block.timestamp);
        }
    }

    /// @dev Replaces the bid stored from word key `base` by `amounts`, updating every seller's load
    /// and checking its capacity; returns the largest |new - old| entry. The caller has checked
    /// the length and that the total is within the demand, so every amount is below 2^32.
    function _applyBid(GameData storage g, uint256 base, uint256[] calldata amounts) private returns (uint256 change) {
        uint256 words = PackedWords.u32Words(amounts.length);
        for (uint256 w; w < words; ++w) {
            uint256 newBids = BidLoads.packWord(amounts, w);
            uint256 oldBids = g.bidWords[base + w];
            if (newBids == oldBids) continue; // loads unchanged, so still within capacity
            (uint256 newLoads, uint256 wordChange) =
                BidLoads.loadsAfter(w, oldBids, newBids, g.loadWords[w], g.capacityWords[w]);
            if (wordChange > change) change = wordChange;
            g.bidWords[base + w] = newBids;
            g.loadWords[w] = newLoads;
        }
    }

    /// @dev Ends the current turn, whose largest bid change was `change`: starts the next turn,
    /// the next round, or ends the game (converged, or round limit). Only called before the
    /// delivery end (a bid or stand within its deadline, a skip before `deliveryEnd`).
    function _endTurn(uint256 gameId, GameData storage g, GameStatus memory s, uint256 change) private {
        // change < 2^32 (bid entries are below 2^32); next < buyerCount (a uint16).
        if (change > s.roundMaxChange) s.roundMaxChange = SafeCast.toUint32(change);
        uint256 next = uint256(s.turn) + 1;
        if (next < s.buyerCount) {
            s.turn = SafeCast.toUint16(next);
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

    /// @dev Stores `s` with a fresh deadline for its turn and announces the turn. Only called
    /// before the delivery end; the deadline is at most `deliveryEnd - 1`, the last second of bidding.
    function _startTurn(uint256 gameId, GameData storage g, GameStatus memory s) private {
        uint256 deadline = block.timestamp + s.turnSeconds;
        uint256 last = s.biddingEnd - 1; // deliveryEnd > registrationEnd > 0 (openGame)
        if (deadline > last) deadline = last;
        // At most deliveryEnd - 1, a uint64.
        s.turnDeadline = SafeCast.toUint64(deadline);
        g.status = s;
        emit TurnStarted(gameId, s.round, g.demands[g.orderWords.u16At(s.turn)].buyer, deadline);
    }

    /// @dev Stores `s` as ended for `reason` and announces it.
    function _end(uint256 gameId, GameData storage g, GameStatus memory s, EndReason reason) private {
        s.phase = Phase.Ended;
        s.endReason = reason;
        g.status = s;
        emit GameEnded(gameId, s.round, reason);
    }
}
