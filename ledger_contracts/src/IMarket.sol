// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IMarket
/// @notice The gridgame market: a permissioned registry of prosumers and the turn-based game in
/// which buyers split their demand among sellers (see the README's "Two things to know about the game").
/// @dev Units on chain: energy in Wh, prices in micro-units of the settlement token per kWh.
/// Every function acts for `_msgSender()` (ERC-2771), so a relay submitting a prosumer's signed
/// request acts for the prosumer. Settlement (escrow, payments, metering) is a separate contract
/// that is granted `SETTLEMENT_ROLE`; the Market is the one registry of roles.
interface IMarket {
    // =============================================================== types

    /// @notice Where a game is in its life.
    /// @dev `None`: no such game. `Registration`: offers and demands are accepted until
    /// `registrationEnd`. `Bidding`: buyers bid in turn. `Ended`: bidding is over and the
    /// allocation is final; `GameStatus.endReason` says why (`EndReason`: converged, round limit,
    /// time limit, or nobody to trade with). Later stages (trades fixed, closing, closed) are the settlement's
    /// own status (`ISettlement.Status`).
    enum Phase {
        None,
        Registration,
        Bidding,
        Ended
    }

    /// @notice Why bidding ended.
    /// @dev `Converged`: a full round changed no bid entry by more than `epsilon` Wh.
    /// `RoundLimit`: `roundLimit` rounds were played. `NoParticipants`: registration closed
    /// without a seller or without a buyer. `TimeLimit`: the game's delivery end came before
    /// the game converged or reached its round limit (bidding is bounded by `deliveryEnd`).
    enum EndReason {
        None,
        Converged,
        RoundLimit,
        NoParticipants,
        TimeLimit
    }

    /// @notice A prosumer's part in one game.
    enum Role {
        None,
        Seller,
        Buyer
    }

    /// @notice What the clock fixes when it opens a game.
    /// @param registrationEnd Offers and demands are accepted while `block.timestamp < registrationEnd`.
    /// @param deliveryEnd End of the delivery period (used by settlement); after `registrationEnd`,
    /// below 2^32 (copied into `GameStatus.biddingEnd`).
    /// It also bounds bidding: a bid or stand is accepted while `block.timestamp < deliveryEnd`,
    /// whatever the round limit, so dead or slow buyers cannot stretch a game past its delivery.
    /// @param roundLimit Most rounds of bidding; at least 1. Not checked against the time a game
    /// has: `turnSeconds` is what a dead buyer costs, a live one answers in a block or two, and
    /// `deliveryEnd` ends bidding in any case.
    /// @param turnSeconds Seconds a buyer has for its turn, counted from the turn's start (a turn
    /// ends at `deliveryEnd - 1` at the latest).
    /// @param epsilon Convergence tolerance in Wh: a round in which no bid entry moved by more
    /// than `epsilon` ends the game.
    struct GameParams {
        uint64 registrationEnd;
        uint64 deliveryEnd;
        uint32 roundLimit;
        uint32 turnSeconds;
        uint64 epsilon;
    }

    /// @notice The grid prices and transmission fee in force when the game was opened (micro-units
    /// of the token per kWh, and per kWh per hop).
    struct GamePrices {
        uint64 retail;
        uint64 feedIn;
        uint64 transmissionFee;
    }

    /// @notice The moving parts of a game.
    /// @param round The round being played (1-based); once ended, the round bidding ended in.
    /// @param turn The position, in buyer order, of the buyer whose turn it is.
    /// @param turnDeadline Last timestamp at which the current buyer may still bid: the turn's
    /// start plus `turnSeconds`, and at most `deliveryEnd - 1`.
    /// @param roundMaxChange Largest |new - old| of any bid entry (Wh) so far in this round
    /// (bid entries are below 2^32).
    /// @param turnSeconds The game's `GameParams.turnSeconds`, copied so that a turn reads and
    /// writes one storage slot (the struct is exactly 256 bits).
    /// @param biddingEnd The game's `GameParams.deliveryEnd`, copied for the same reason: bidding
    /// is accepted while `block.timestamp < biddingEnd`.
    struct GameStatus {
        Phase phase;
        EndReason endReason;
        uint16 sellerCount;
        uint16 buyerCount;
        uint32 round;
        uint16 turn;
        uint64 turnDeadline;
        uint32 roundMaxChange;
        uint32 turnSeconds;
        uint32 biddingEnd;
    }

    /// @notice Everything a buyer needs for its turn, in one call.
    /// @param currentBuyer The buyer whose turn it is (zero outside bidding).
    /// @param loads Every seller's load (Wh), in offer order: the sum of the current bids.
    /// @param currentBid The current buyer's standing bid (Wh per seller).
    struct GameState {
        GameStatus status;
        address currentBuyer;
        uint256[] loads;
        uint256[] currentBid;
    }

    /// @notice A prosumer's record.
    /// @param admissionIndex Order of admission, from 1; breaks ties between equal contribution metrics.
    /// @param producedWh Cumulative metered production (posted by settlement).
    /// @param consumedWh Cumulative metered consumption (posted by settlement).
    struct Prosumer {
        bytes32 meterId;
        uint16 zone;
        bool admitted;
        uint32 admissionIndex;
        uint96 producedWh;
        uint96 consumedWh;
    }

    /// @notice A seller's offer: capacity `wh` at base `price` (micro-units per kWh).
    struct Offer {
        address seller;
        uint32 wh;
        uint64 price;
    }

    /// @notice A buyer's demand in Wh.
    struct Demand {
        address buyer;
        uint32 wh;
    }

    // =============================================================== errors

    /// @notice Adding `producedWh` and `consumedWh` would overflow `prosumer`'s 96-bit totals.
    error MarketMeteringOverflow(address prosumer, uint256 producedWh, uint256 consumedWh);

    /// @notice `account` is not an admitted prosumer.
    error MarketNotAdmitted(address account);

    /// @notice `account` was never admitted, so it has no record.
    error MarketUnknownProsumer(address account);

    /// @notice The zero address cannot be admitted.
    error MarketInvalidProsumer(address account);

    /// @notice `account` is already admitted.
    error MarketAlreadyAdmitted(address account);

    /// @notice The zero meter id is reserved.
    error MarketZeroMeterId();

    /// @notice `meterId` already belongs to `holder`.
    error MarketMeterIdTaken(bytes32 meterId, address holder);

    /// @notice `zone` is not below the number of zones `zoneCount`.
    error MarketZoneOutOfRange(uint256 zone, uint256 zoneCount);

    /// @notice The hop-distance matrix has no zone.
    error MarketZeroZoneCount();

    /// @notice The hop-distance matrix has `actual` entries instead of `expected` (zoneCount^2).
    error MarketHopDistancesLength(uint256 expected, uint256 actual);

    /// @notice The distance from `zone` to itself is `distance`, not 0.
    error MarketHopDistanceNonZeroDiagonal(uint256 zone, uint256 distance);

    /// @notice The distance from zone `from` to zone `to` differs from the distance back.
    error MarketHopDistanceAsymmetric(uint256 from, uint256 to);

    /// @notice `zoneCount` zones would drop a zone that admitted prosumers use (`zonesInUse` are needed).
    error MarketZonesInUse(uint256 zoneCount, uint256 zonesInUse);

    /// @notice Grid prices must satisfy 0 <= feedIn < retail <= max.
    error MarketInvalidGridPrices(uint256 retail, uint256 feedIn);

    /// @notice `price` is above the largest storable price `max`.
    error MarketPriceTooLarge(uint256 price, uint256 max);

    /// @notice A game cannot be opened before the grid prices are set.
    error MarketGridPricesNotSet();

    /// @notice The registration window must end in the future.
    error MarketRegistrationEndNotInFuture(uint256 registrationEnd, uint256 timestamp);

    /// @notice The delivery period must end after registration.
    error MarketDeliveryEndBeforeRegistrationEnd(uint256 deliveryEnd, uint256 registrationEnd);

    /// @notice `deliveryEnd` is above the latest delivery end `max` a game may have (2^32 - 1,
    /// in the year 2106: it bounds bidding, and a turn keeps it in its one storage slot).
    error MarketDeliveryEndTooLate(uint256 deliveryEnd, uint256 max);

    /// @notice A game needs at least one round.
    error MarketZeroRoundLimit();

    /// @notice A turn needs a positive number of seconds (`GameParams.turnSeconds`).
    error MarketZeroTurnSeconds();

    /// @notice Game `gameId` is in phase `actual`, the call needs `expected`.
    error MarketWrongPhase(uint256 gameId, Phase expected, Phase actual);

    /// @notice Registration of game `gameId` ended at `registrationEnd`; it is `timestamp`.
    error MarketRegistrationWindowClosed(uint256 gameId, uint256 registrationEnd, uint256 timestamp);

    /// @notice Registration of game `gameId` runs until `registrationEnd`; it is `timestamp`.
    error MarketRegistrationWindowOpen(uint256 gameId, uint256 registrationEnd, uint256 timestamp);

    /// @notice `account` already published an offer or a demand in game `gameId`.
    error MarketAlreadyRegistered(uint256 gameId, address account);

    /// @notice An offer or demand must be for a positive amount.
    error MarketZeroAmount();

    /// @notice `wh` is above the largest amount `max` an offer or demand may have.
    error MarketAmountTooLarge(uint256 wh, uint256 max);

    /// @notice An offer's price must satisfy 0 < price < the game's grid retail price `retail`.
    error MarketInvalidOfferPrice(uint256 price, uint256 retail);

    /// @notice Game `gameId` already has `limit` sellers (or buyers).
    error MarketGameFull(uint256 gameId, uint256 limit);

    /// @notice `account` has no demand in game `gameId`.
    error MarketNotBuyer(uint256 gameId, address account);

    /// @notice It is `expected`'s turn in game `gameId`, not `caller`'s.
    error MarketNotYourTurn(uint256 gameId, address expected, address caller);

    /// @notice The current turn of game `gameId` expired at `deadline`; it is `timestamp`.
    error MarketTurnExpired(uint256 gameId, uint256 deadline, uint256 timestamp);

    /// @notice A bid or stand for round `round`, turn `turn` of game `gameId` arrived while the
    /// game is at round `currentRound`, turn `currentTurn`: it was computed for another turn (a
    /// request delayed past its turn, or one computed ahead for a turn not yet come) and is not
    /// applied.
    error MarketStaleTurn(uint256 gameId, uint256 round, uint256 turn, uint256 currentRound, uint256 currentTurn);

    /// @notice The current turn of game `gameId` runs until `deadline`; it is `timestamp`.
    error MarketTurnNotExpired(uint256 gameId, uint256 deadline, uint256 timestamp);

    /// @notice A bid needs one entry per seller (`expected`), it has `actual`.
    error MarketBidLengthMismatch(uint256 expected, uint256 actual);

    /// @notice A bid totalling `total` Wh exceeds the buyer's demand `demand` (`total` saturates at 2^256-1).
    error MarketBidExceedsDemand(uint256 total, uint256 demand);

    /// @notice The bid would load seller number `seller` (offer order) with `load` Wh, above its `capacity`.
    error MarketBidExceedsCapacity(uint256 seller, uint256 load, uint256 capacity);

    /// @notice The settlement contract is already `settlement`; it is set once.
    error MarketSettlementAlreadySet(address settlement);

    /// @notice The settlement contract cannot be the zero address.
    error MarketInvalidSettlement(address settlement);

    /// @notice Settlement must be set before the first game; `gameCount` games were opened.
    error MarketSettlementAfterGames(uint256 gameCount);

    // =============================================================== events

    /// @notice `prosumer` was admitted with meter `meterId` in grid `zone`.
    event ProsumerAdmitted(address indexed prosumer, bytes32 indexed meterId, uint16 zone, uint32 admissionIndex);

    /// @notice `prosumer` may no longer offer, demand or bid.
    event ProsumerRevoked(address indexed prosumer);

    /// @notice The hop-distance matrix was replaced (`distances` row-major, zoneCount^2 entries).
    event HopDistancesSet(uint16 zoneCount, uint16[] distances);

    /// @notice The grid retail and feed-in prices were set (micro-units per kWh).
    event GridPricesSet(uint256 retail, uint256 feedIn);

    /// @notice The transmission fee was set (micro-units per kWh per hop).
    event TransmissionFeeSet(uint256 feePerHop);

    /// @notice `settlement` escrows every demand from now on and holds `SETTLEMENT_ROLE`.
    event SettlementSet(address indexed settlement);

    /// @notice Settlement added metered energy to `prosumer`'s cumulative record.
    event MeteringRecorded(address indexed prosumer, uint256 producedWh, uint256 consumedWh);

    /// @notice The clock opened game `gameId`.
    event GameOpened(
        uint256 indexed gameId,
        uint64 registrationEnd,
        uint64 deliveryEnd,
        uint32 roundLimit,
        uint32 turnSeconds,
        uint64 epsilon
    );

    /// @notice `seller` offered `wh` Wh at `price` in game `gameId`, as seller number `index`.
    event OfferPublished(uint256 indexed gameId, address indexed seller, uint256 index, uint256 wh, uint256 price);

    /// @notice `buyer` demanded `wh` Wh in game `gameId`, as the `index`-th demand registered.
    event DemandPublished(uint256 indexed gameId, address indexed buyer, uint256 index, uint256 wh);

    /// @notice Registration of game `gameId` closed with `sellers` offers and `buyers` demands.
    event RegistrationClosed(uint256 indexed gameId, uint256 sellers, uint256 buyers);

    /// @notice It is `buyer`'s turn in round `round` of game `gameId`, until `deadline`.
    event TurnStarted(uint256 indexed gameId, uint256 round, address indexed buyer, uint256 deadline);

    /// @notice `buyer` bid `amounts` (Wh per seller, offer order) in round `round` of game `gameId`.
    event BidSubmitted(uint256 indexed gameId, address indexed buyer, uint256 round, uint256[] amounts);

    /// @notice `buyer` kept its bid in round `round` of game `gameId`.
    event BidStood(uint256 indexed gameId, address indexed buyer, uint256 round);

    /// @notice The clock skipped `buyer`'s expired turn in round `round` of game `gameId`; its bid stands.
    event TurnSkipped(uint256 indexed gameId, address indexed buyer, uint256 round);

    /// @notice Bidding in game `gameId` ended in round `rounds` (0: before the first), for `reason`.
    event GameEnded(uint256 indexed gameId, uint256 rounds, EndReason reason);

    // =============================================================== roles

    /// @notice Opens games, closes registration, skips expired turns.
    function CLOCK_ROLE() external view returns (bytes32);

    /// @notice Posts meter readings (used by settlement).
    function METER_ROLE() external view returns (bytes32);

    /// @notice The settlement contract: records metering into contribution metrics.
    function SETTLEMENT_ROLE() external view returns (bytes32);

    /// @notice Largest amount (Wh) of an offer or a demand: 2^32 - 1, so bids and loads pack in 32 bits.
    function MAX_AMOUNT_WH() external view returns (uint256);

    /// @notice Most sellers in one game.
    function MAX_SELLERS() external view returns (uint256);

    /// @notice Most buyers in one game (bounds the gas of `closeRegistration`).
    function MAX_BUYERS() external view returns (uint256);

    // =============================================================== operator

    /// @notice Admits `prosumer` with the unique meter id `meterId` in grid zone `zone`.
    /// @dev Admin only. A revoked prosumer may be admitted again (a new admission index; its
    /// metered history is kept). Emits {ProsumerAdmitted}.
    function admit(address prosumer, bytes32 meterId, uint16 zone) external;

    /// @notice Stops `prosumer` from offering, demanding and bidding; its meter id stays reserved to it.
    /// @dev Admin only. Emits {ProsumerRevoked}.
    function revoke(address prosumer) external;

    /// @notice Replaces the zone hop-distance matrix: `zoneCount`^2 entries, row-major, zero
    /// diagonal, symmetric. Before the first call there is one zone.
    /// @dev Admin only. Emits {HopDistancesSet}.
    function setHopDistances(uint16 zoneCount, uint16[] calldata distances) external;

    /// @notice Sets the grid retail and feed-in prices (micro-units per kWh), feedIn < retail < 2^64.
    /// @dev Admin only. Applies to games opened afterwards. Emits {GridPricesSet}.
    function setGridPrices(uint256 retail, uint256 feedIn) external;

    /// @notice Sets the transmission fee (micro-units per kWh per hop), below 2^64.
    /// @dev Admin only. Applies to games opened afterwards. Emits {TransmissionFeeSet}.
    function setTransmissionFee(uint256 feePerHop) external;

    /// @notice Sets the settlement contract, once, before the first game: from then on every
    /// demand is escrowed by it (`ISettlement.escrowDemand`) in the same transaction, and a
    /// demand it refuses is not recorded. Grants it `SETTLEMENT_ROLE`. Games of a market without
    /// settlement run on the ledger alone, with no escrow.
    /// @dev Admin only. Emits {SettlementSet}.
    function setSettlement(address settlement_) external;

    // =============================================================== settlement

    /// @notice Adds metered energy to `prosumer`'s cumulative production and consumption, which
    /// order the buyers of later games (production / consumption, highest first).
    /// @dev `SETTLEMENT_ROLE` only. Emits {MeteringRecorded}.
    function recordMetering(address prosumer, uint256 producedWh, uint256 consumedWh) external;

    // =============================================================== clock

    /// @notice Opens a game with `params` and the current grid prices and fee; returns its id (1, 2, ...).
    /// @dev `CLOCK_ROLE` only. Emits {GameOpened}.
    function openGame(GameParams calldata params) external returns (uint256 gameId);

    /// @notice Closes registration (at or after `registrationEnd`), orders the buyers by
    /// contribution metric (highest first, ties by admission order) and starts the first turn,
    /// or ends the game if it has no seller or no buyer (`NoParticipants`) or if its delivery
    /// end has come (`TimeLimit`).
    /// @dev `CLOCK_ROLE` only. Emits {RegistrationClosed}, then {TurnStarted} or {GameEnded}.
    function closeRegistration(uint256 gameId) external;

    /// @notice Skips the current buyer's expired turn; its previous bid (zero at first) stands.
    /// From the game's `deliveryEnd` on (a turn's deadline is at most `deliveryEnd - 1`, so the
    /// clock may call it as soon as that time comes), it ends the game with `TimeLimit`.
    /// @dev `CLOCK_ROLE` only, after the turn deadline. Emits {TurnSkipped}, then {TurnStarted} or {GameEnded}.
    function skipTurn(uint256 gameId) external;

    // =============================================================== prosumers

    /// @notice Offers `wh` Wh (0 < wh < 2^32) at base price `price` (0 < price < the game's retail price).
    /// @dev Admitted prosumers, once per game, while registration is open. Emits {OfferPublished}.
    function publishOffer(uint256 gameId, uint256 wh, uint256 price) external;

    /// @notice Demands `wh` Wh (0 < wh < 2^32); with settlement set, escrows its worst-case cost.
    /// @dev Admitted prosumers, once per game, while registration is open. Emits {DemandPublished},
    /// then the settlement's escrow event; the settlement's refusal (balance, allowance) reverts it.
    function publishDemand(uint256 gameId, uint256 wh) external;

    /// @notice Replaces the caller's bid with `whPerSeller` (Wh per seller, offer order) and ends its
    /// turn. `round` and `turn` are the turn the bid was computed for (`GameStatus.round` and
    /// `.turn` of the state it was computed on); a bid for any other turn is refused whole
    /// (`MarketStaleTurn`). From the game's `deliveryEnd` on, the bid is not applied: it ends the
    /// game with `TimeLimit` instead.
    /// @dev The current buyer, before its turn deadline. The total must not exceed its demand, nor
    /// any seller's load its capacity. Emits {BidSubmitted}, then {TurnStarted} or {GameEnded};
    /// only {GameEnded} from `deliveryEnd` on.
    function bid(uint256 gameId, uint256 round, uint256 turn, uint256[] calldata whPerSeller) external;

    /// @notice Keeps the caller's bid and ends its turn (no change). `round` and `turn` as for
    /// `bid`. From the game's `deliveryEnd` on, it ends the game with `TimeLimit` instead.
    /// @dev The current buyer, before its turn deadline. Emits {BidStood}, then {TurnStarted} or
    /// {GameEnded}; only {GameEnded} from `deliveryEnd` on.
    function stand(uint256 gameId, uint256 round, uint256 turn) external;

    // =============================================================== views

    /// @notice The settlement contract (zero if none).
    function settlement() external view returns (address);

    /// @notice The record of `account` (all zero if never admitted).
    function prosumer(address account) external view returns (Prosumer memory);

    /// @notice The prosumer holding `meterId` (zero if none).
    function meterHolder(bytes32 meterId) external view returns (address);

    /// @notice How many admissions there have been (the last admission index).
    function admissionCount() external view returns (uint256);

    /// @notice The number of grid zones.
    function zoneCount() external view returns (uint256);

    /// @notice The hop distance from zone `from` to zone `to`.
    function hopDistance(uint256 from, uint256 to) external view returns (uint256);

    /// @notice The hop distance between the zones of two admitted-or-revoked prosumers.
    function hopDistanceBetween(address a, address b) external view returns (uint256);

    /// @notice The whole hop-distance matrix, row-major.
    function hopDistances() external view returns (uint16 count, uint16[] memory distances);

    /// @notice The current grid retail and feed-in prices (micro-units per kWh).
    function gridPrices() external view returns (uint256 retail, uint256 feedIn);

    /// @notice The current transmission fee (micro-units per kWh per hop).
    function transmissionFee() external view returns (uint256);

    /// @notice The number of games opened (the last game id).
    function gameCount() external view returns (uint256);

    /// @notice A game's parameters, price snapshot and status.
    function game(uint256 gameId)
        external
        view
        returns (GameParams memory params, GamePrices memory prices, GameStatus memory status);

    /// @notice A game's phase.
    function phase(uint256 gameId) external view returns (Phase);

    /// @notice The status, current buyer, seller loads and current buyer's bid: a turn in one call.
    function gameState(uint256 gameId) external view returns (GameState memory);

    /// @notice The offers, in offer order (seller index = position).
    function offers(uint256 gameId) external view returns (Offer[] memory);

    /// @notice The demands: in turn order once registration is closed, in registration order before.
    function demands(uint256 gameId) external view returns (Demand[] memory);

    /// @notice `account`'s role in a game and its index (offer order for a seller, registration
    /// order for a buyer).
    function participant(uint256 gameId, address account) external view returns (Role role, uint256 index);

    /// @notice `buyer`'s current bid vector (Wh per seller, offer order).
    function bidOf(uint256 gameId, address buyer) external view returns (uint256[] memory);

    /// @notice Every current bid: one row per buyer in turn order, one column per seller.
    function allocation(uint256 gameId) external view returns (uint256[][] memory);

    /// @notice Hop distances from `account`'s zone to each seller's zone, in offer order.
    function hopsToSellers(uint256 gameId, address account) external view returns (uint256[] memory);
}
