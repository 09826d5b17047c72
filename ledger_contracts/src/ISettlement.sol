// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "./IMarket.sol";

/// @title ISettlement
/// @notice Money and energy of the market's games: escrow of every demand, the trades fixed once
/// bidding ends, payment of trades as meters show them delivered, and the close that refunds what
/// was not delivered and settles the rest with the grid (see `docs/settlement.md`).
/// @dev Amounts are token base units (1 base unit = 1 micro-unit, the token has 6 decimals);
/// energy in Wh; prices in micro-units per kWh, so `wh * price` is in thousandths of a base unit
/// ("milli" amounts, kept exact until a transfer rounds them). Roles live in the Market: meters
/// hold its `METER_ROLE`, the clock its `CLOCK_ROLE`; this contract holds its `SETTLEMENT_ROLE`.
/// The grid's counterparty is `operator()`: it receives transmission fees, grid imports and the
/// rounding dust, and funds grid exports from its wallet through an allowance to this contract.
interface ISettlement {
    // =============================================================== types

    /// @notice Where a game's settlement is.
    /// @dev `Open`: demands are escrowed (the game is registering or bidding). `FixingTrades`:
    /// {fixTrades} has fixed the trades of some buyers. `TradesFixed`: every trade is fixed and
    /// meter readings are accepted. `Closing`: {closeGame} has settled some participants; readings
    /// are refused. `Closed`: everything is settled and the game holds no tokens.
    enum Status {
        Open,
        FixingTrades,
        TradesFixed,
        Closing,
        Closed
    }

    /// @notice A game's settlement book.
    /// @param cursor Progress of {fixTrades} (sellers priced, then buyers fixed) or {closeGame}
    /// (items settled).
    /// @param zoneCount, retail, feedIn, transmissionFee, deliveryEnd Snapshots taken by the first
    /// {fixTrades} call (the hop matrix is snapshotted with them).
    /// @param readings Participants whose meter reading is in (a clock closes the game once all
    /// are, without waiting out the meters' window).
    /// @param fixedAt Block time at which the last {fixTrades} call fixed every trade: the
    /// meters' window starts at the later of it and `deliveryEnd`.
    /// @param held Tokens this contract holds for the game.
    /// @param transmissionMilli Transmission fees of delivered trades, in thousandths of a base unit.
    /// @param importsFromEscrow Grid imports paid out of escrow at close.
    /// @param sellersDue What the close owes the sellers for their delivered energy, in base units
    /// (sum over sellers of floor(deliveredWh x energyPrice / 1000)); paid at their items.
    /// @param buyerCount Demands escrowed (buyers in registration order, as {fixTrades} and
    /// {closeGame} visit them).
    /// @param sellerCount Offers of the game, snapshotted by the first {fixTrades} call.
    struct GameBook {
        Status status;
        uint16 cursor;
        uint16 zoneCount;
        uint16 readings;
        uint64 retail;
        uint64 feedIn;
        uint64 transmissionFee;
        uint64 deliveryEnd;
        uint64 fixedAt;
        uint128 held;
        uint128 transmissionMilli;
        uint128 importsFromEscrow;
        uint128 sellersDue;
        uint16 buyerCount;
        uint16 sellerCount;
    }

    /// @notice A buyer's or seller's record in one game.
    /// @param escrowed Buyer: locked when its demand was published.
    /// @param locked Buyer: held for it: `escrowed` until its trades are fixed, then the worst
    /// bill of any delivery for a consumption up to its demand,
    /// ceil((demandWh x g + sum_j x_j max(u_j - g, 0)) / 1000), at most `escrowed`; all of it stays
    /// until close, which pays its delivered trades and its grid import from it and refunds the rest.
    /// @param chargedMilli Buyer: cost of its delivered trades, in thousandths of a base unit.
    /// @param demandWh Buyer: its demand.
    /// @param energyPrice Seller: its energy price under its final load, min(p (1 + L / C), g),
    /// micro-units per kWh, rounded down.
    /// @param tradedWh Buyer: bought from peers; seller: sold to peers (its final load).
    /// @param deliveredWh Energy of its trades paid as delivered (set by the close).
    /// @param producedWh, consumedWh Its meter reading for the delivery period.
    /// @param maxHop Buyer: the hop distance its escrow covers (largest from its zone to any zone).
    /// @param zone Its grid zone, snapshotted when the trades were fixed.
    /// @param tradesFixed Its trades are fixed (buyer) or its price is (seller).
    /// @param read Its meter reading was posted.
    /// @param settled The close settled it.
    struct Party {
        uint128 escrowed;
        uint128 locked;
        uint192 chargedMilli;
        uint32 demandWh;
        uint64 energyPrice;
        uint32 tradedWh;
        uint32 deliveredWh;
        uint32 producedWh;
        uint32 consumedWh;
        uint16 maxHop;
        uint16 zone;
        bool tradesFixed;
        bool read;
        bool settled;
    }

    // =============================================================== errors

    /// @notice A constructor argument is the zero address.
    error SettlementZeroAddress();

    /// @notice Only the market may escrow a demand; `caller` is not it.
    error SettlementOnlyMarket(address caller);

    /// @notice `buyer` holds `balance` base units; its escrow needs `needed`.
    error SettlementInsufficientBalance(address buyer, uint256 balance, uint256 needed);

    /// @notice `buyer` allows this contract `allowance` base units; its escrow needs `needed`.
    error SettlementInsufficientAllowance(address buyer, uint256 allowance, uint256 needed);

    /// @notice Bidding in game `gameId` has not ended (the market's phase is `phase`).
    error SettlementBiddingNotEnded(uint256 gameId, IMarket.Phase phase);

    /// @notice The trades of game `gameId` are already fixed.
    error SettlementTradesAlreadyFixed(uint256 gameId);

    /// @notice The trades of game `gameId` are not all fixed yet (its status is `status`).
    error SettlementTradesNotFixed(uint256 gameId, Status status);

    /// @notice Game `gameId` is closing or closed (`status`): readings are no longer accepted.
    error SettlementGameClosing(uint256 gameId, Status status);

    /// @notice Game `gameId` is already closed.
    error SettlementGameClosed(uint256 gameId);

    /// @notice A chunk must cover at least one item.
    error SettlementZeroChunk();

    /// @notice `account` neither offered nor demanded in game `gameId`.
    error SettlementNotParticipant(uint256 gameId, address account);

    /// @notice `account`'s reading for game `gameId` was already posted.
    error SettlementAlreadyRead(uint256 gameId, address account);

    /// @notice A reading of `wh` Wh is above the largest accepted, `max`.
    error SettlementReadingTooLarge(uint256 wh, uint256 max);

    /// @notice The delivery period of game `gameId` ends at `deliveryEnd`; it is `timestamp`.
    error SettlementDeliveryNotEnded(uint256 gameId, uint256 deliveryEnd, uint256 timestamp);

    // =============================================================== events

    /// @notice `buyer`'s demand of `wh` Wh in game `gameId` locked `amount` base units, covering a
    /// transmission distance of `maxHop` hops.
    event EscrowLocked(uint256 indexed gameId, address indexed buyer, uint256 wh, uint256 maxHop, uint256 amount);

    /// @notice `seller` sold `soldWh` Wh in game `gameId` at `energyPrice` (micro-units per kWh).
    event SellerPriced(uint256 indexed gameId, address indexed seller, uint256 soldWh, uint256 energyPrice);

    /// @notice A trade of game `gameId`: `buyer` buys `wh` Wh from `seller` at `unitPrice` =
    /// `energyPrice` + transmission fee x `hops` (micro-units per kWh).
    event TradeFixed(
        uint256 indexed gameId,
        address indexed buyer,
        address indexed seller,
        uint256 wh,
        uint256 energyPrice,
        uint256 hops,
        uint256 unitPrice
    );

    /// @notice `buyer`'s trades in game `gameId` are fixed: it bought `boughtWh` Wh for `cost`;
    /// `locked` (the worst bill for a consumption up to its demand: every Wh at the retail price,
    /// plus what its trades cost above it) stays locked until close and `refunded` went back to
    /// its wallet.
    event BuyerTradesFixed(
        uint256 indexed gameId, address indexed buyer, uint256 boughtWh, uint256 cost, uint256 locked, uint256 refunded
    );

    /// @notice Every trade of game `gameId` is fixed (`buyers` buyers, `sellers` sellers).
    event TradesFixed(uint256 indexed gameId, uint256 buyers, uint256 sellers);

    /// @notice A meter posted `prosumer`'s reading for game `gameId`.
    event ReadingPosted(uint256 indexed gameId, address indexed prosumer, uint256 producedWh, uint256 consumedWh);

    /// @notice `wh` Wh of the trade `buyer`-`seller` in game `gameId` were delivered (found by the
    /// close): `sellerAmount` base units are the trade's share of the seller's payment (rounded
    /// down; the seller is paid once, {SellerPaid}), `chargedMilli` thousandths of a base unit were
    /// charged to the buyer's escrow (energy plus transmission).
    event TradeDelivered(
        uint256 indexed gameId,
        address indexed buyer,
        address indexed seller,
        uint256 wh,
        uint256 sellerAmount,
        uint256 chargedMilli
    );

    /// @notice `seller` was paid `amount` base units out of game `gameId` for `deliveredWh` Wh of
    /// its trades delivered: floor(deliveredWh x energyPrice / 1000).
    event SellerPaid(uint256 indexed gameId, address indexed seller, uint256 deliveredWh, uint256 amount);

    /// @notice The close of game `gameId` started; readings are no longer accepted.
    event ClosingStarted(uint256 indexed gameId);

    /// @notice No reading was posted for `prosumer` in game `gameId`: none of its trades was
    /// delivered and it has no grid import or export in this game.
    event ReadingMissing(uint256 indexed gameId, address indexed prosumer);

    /// @notice `prosumer`'s grid position in game `gameId`: `importWh` consumed beyond what peers
    /// delivered, charged `importCharge` (at the retail price, rounded up; a buyer's bill is rounded
    /// once: `importCharge` = ceil((chargedMilli + importWh x g) / 1000) - ceil(chargedMilli / 1000));
    /// `exportWh` produced beyond what it delivered to peers, credited `exportCredit` (at the feed-in
    /// price, rounded down).
    event GridSettled(
        uint256 indexed gameId,
        address indexed prosumer,
        uint256 importWh,
        uint256 importCharge,
        uint256 exportWh,
        uint256 exportCredit
    );

    /// @notice `buyer`'s escrow in game `gameId` was released: `spent` paid its delivered trades,
    /// `toGrid` paid its grid import, `refunded` went back to its wallet.
    event EscrowReleased(
        uint256 indexed gameId, address indexed buyer, uint256 spent, uint256 toGrid, uint256 refunded
    );

    /// @notice A grid balance of game `gameId` was paid wallet to wallet: `amount` from `payer` to
    /// `payee` (a prosumer's import beyond its escrow, or the operator paying an export).
    event GridPaid(uint256 indexed gameId, address indexed payer, address indexed payee, uint256 amount);

    /// @notice `debtor` could not pay `amount` it owes `creditor` for game `gameId` (its balance or
    /// its allowance to this contract fell short); the close went on without it.
    event DebtRecorded(uint256 indexed gameId, address indexed debtor, address indexed creditor, uint256 amount);

    /// @notice The operator received what game `gameId` left in escrow: `transmission` fees,
    /// grid imports paid from escrow (`imports`) and the rounding `dust`.
    event GameIncomePaid(
        uint256 indexed gameId, address indexed operator, uint256 transmission, uint256 imports, uint256 dust
    );

    /// @notice Game `gameId` is settled; it holds no tokens.
    event GameClosed(uint256 indexed gameId);

    // =============================================================== constants and wiring

    /// @notice Largest accepted meter reading (Wh), 2^32 - 1: cumulative metering cannot overflow.
    function MAX_READING_WH() external view returns (uint256);

    /// @notice The market whose games are settled here (and whose roles apply).
    function market() external view returns (IMarket);

    /// @notice The settlement token.
    function token() external view returns (address);

    /// @notice The grid's counterparty: receives fees, imports and dust; funds exports.
    function operator() external view returns (address);

    // =============================================================== market hook

    /// @notice Locks `buyer`'s escrow for a demand of `wh` Wh in game `gameId`:
    /// ceil(wh x (g + t x maxHop) / 1000), with g and t the game's retail price and transmission
    /// fee and maxHop the largest hop distance from the buyer's zone to any zone.
    /// @dev The market only, from `publishDemand` (so a refusal refuses the demand). Needs that
    /// balance and allowance. Emits {EscrowLocked}.
    function escrowDemand(uint256 gameId, address buyer, uint256 wh) external;

    // =============================================================== settlement

    /// @notice Fixes up to `maxItems` more items of a game whose bidding ended: first every seller
    /// is priced under its final load ({SellerPriced}), then every buyer's trades are fixed
    /// (registration order; a buyer is one item per 128 sellers of the game, each item its trades
    /// with 128 of them); returns whether every buyer is now fixed.
    /// @dev Anyone may call, any number of times until done. The first call snapshots the game's
    /// prices and the hop matrix. Per buyer: one {TradeFixed} per trade (positive Wh); the worst
    /// bill for a consumption up to its demand stays locked and the rest of its escrow is refunded
    /// ({BuyerTradesFixed}). The last call emits {TradesFixed}. A call's gas is bounded by its
    /// chunk: a seller costs a constant, a buyer's item at most 128 trades.
    function fixTrades(uint256 gameId, uint256 maxItems) external returns (bool done);

    /// @notice Posts `prosumer`'s metered production and consumption for game `gameId`'s delivery
    /// period. Constant cost: the trades it covers are paid by the close.
    /// @dev `METER_ROLE` only; once per prosumer per game; while the status is `TradesFixed`.
    /// Emits {ReadingPosted}.
    function postReading(uint256 gameId, address prosumer, uint256 producedWh, uint256 consumedWh) external;

    /// @notice Settles up to `maxItems` more items of a game whose delivery period ended: every
    /// buyer (one item per 128 sellers, as in {fixTrades}: its delivered trades, {TradeDelivered}
    /// each; its last item pays its bill from its escrow, its grid import, and refunds the rest),
    /// then the operator's income, then every seller (paid for its delivered energy, {SellerPaid},
    /// and its grid position); returns whether the game is closed.
    /// @dev `CLOCK_ROLE` only, at or after `deliveryEnd`, trades fixed. Never reverts because of one
    /// prosumer: what a wallet cannot pay is recorded with {DebtRecorded}. Posts every reading to
    /// the market's contribution metrics. Emits {ClosingStarted} first and {GameClosed} last.
    function closeGame(uint256 gameId, uint256 maxItems) external returns (bool done);

    // =============================================================== views

    /// @notice Game `gameId`'s settlement book.
    function gameBook(uint256 gameId) external view returns (GameBook memory);

    /// @notice `account`'s record in game `gameId`.
    function party(uint256 gameId, address account) external view returns (Party memory);

    /// @notice Tokens held for `account` across games: its escrow not yet spent nor released.
    function escrowOf(address account) external view returns (uint256);

    /// @notice The escrow a demand of `wh` Wh by `buyer` would lock in game `gameId` now, and the
    /// hop distance it covers.
    function escrowFor(uint256 gameId, address buyer, uint256 wh) external view returns (uint256 amount, uint256 maxHop);
}
