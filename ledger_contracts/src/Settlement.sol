// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {EscrowLedger} from "./EscrowLedger.sol";
import {IMarket} from "./IMarket.sol";
import {ISettlement} from "./ISettlement.sol";
import {PackedWords} from "./libraries/PackedWords.sol";
import {SettlementMath} from "./libraries/SettlementMath.sol";

/// @title Settlement
/// @notice Escrow, trades, metered delivery, grid imports and exports, and contribution metrics
/// for the games of one Market (rules and the conservation argument: `docs/settlement.md`).
/// @dev The books and the one path of every token and escrow movement are in `EscrowLedger`.
/// A buyer's escrow enters with its demand and leaves as a refund, a payment to a seller, or the
/// operator's income. Trades are not stored: the allocation stays in the Market (final once
/// bidding ended), each seller's price and every participant's zone are snapshotted in its
/// `Party` record, and the hop matrix in the game's book, so later hop changes cannot move a
/// fixed price.
contract Settlement is EscrowLedger {
    using PackedWords for mapping(uint256 => uint256);

    /// @inheritdoc ISettlement
    uint256 public constant MAX_READING_WH = type(uint32).max;

    /// @dev A seller as trades need it: its address, energy price and zone.
    struct Seller {
        address account;
        uint256 price;
        uint256 zone;
    }

    /// @param market_ The market whose games are settled (it must then `setSettlement` to this).
    /// @param token_ The settlement token.
    /// @param operator_ The grid's counterparty.
    /// @param trustedForwarder The `GridForwarder` relaying the clock's and meters' signed requests.
    constructor(IMarket market_, IERC20 token_, address operator_, address trustedForwarder)
        EscrowLedger(market_, token_, operator_, trustedForwarder)
    {}

    // =============================================================== market hook

    /// @inheritdoc ISettlement
    function escrowDemand(uint256 gameId, address buyer, uint256 wh) external {
        if (msg.sender != address(_market)) revert SettlementOnlyMarket(msg.sender);
        (uint256 amount, uint256 maxHop) = escrowFor(gameId, buyer, wh);
        uint256 balance = _token.balanceOf(buyer);
        if (balance < amount) revert SettlementInsufficientBalance(buyer, balance, amount);
        uint256 allowance = _token.allowance(buyer, address(this));
        if (allowance < amount) revert SettlementInsufficientAllowance(buyer, allowance, amount);

        GameData storage g = _game(gameId);
        Party storage p = g.parties[buyer];
        // wh < 2^32 and the unit price < 2^81, so amount < 2^113; maxHop is a uint16 distance.
        p.escrowed = SafeCast.toUint128(amount);
        p.locked = p.escrowed;
        p.maxHop = SafeCast.toUint16(maxHop);
        emit EscrowLocked(gameId, buyer, wh, maxHop, amount);
        _update(g.book, buyer, 0, buyer, address(this), amount);
    }

    // =============================================================== fixing trades

    /// @inheritdoc ISettlement
    function fixTrades(uint256 gameId, uint256 maxBuyers) external returns (bool done) {
        if (maxBuyers == 0) revert SettlementZeroChunk();
        GameData storage g = _game(gameId);
        GameBook memory book = g.book;
        if (book.status >= Status.TradesFixed) revert SettlementTradesAlreadyFixed(gameId);
        IMarket.Phase phase = _market.phase(gameId);
        if (phase != IMarket.Phase.Ended) revert SettlementBiddingNotEnded(gameId, phase);

        Seller[] memory sellers = book.status == Status.Open ? _priceSellers(gameId, g, book) : _sellers(gameId, g);
        IMarket.Demand[] memory demands = _market.demands(gameId);
        uint256 start = book.cursor;
        uint256 end = start + maxBuyers;
        if (end > demands.length) end = demands.length;
        uint256[] memory refunds = new uint256[](end);
        for (uint256 k = start; k < end; ++k) {
            refunds[k] = _fixBuyer(gameId, g, book, sellers, demands[k]);
        }
        done = end == demands.length;
        // end <= buyers <= Market.MAX_BUYERS < 2^16; block times fit in 64 bits.
        book.cursor = done ? 0 : SafeCast.toUint16(end);
        if (done) {
            book.status = Status.TradesFixed;
            book.fixedAt = SafeCast.toUint64(block.timestamp);
        }
        g.book = book;
        if (done) emit TradesFixed(gameId, demands.length, sellers.length);

        for (uint256 k = start; k < end; ++k) {
            if (refunds[k] != 0) {
                _update(g.book, demands[k].buyer, refunds[k], address(this), demands[k].buyer, refunds[k]);
            }
        }
    }

    /// @dev First call of {fixTrades}: snapshots prices, delivery end and hop matrix into `book`
    /// (memory; the caller stores it; the hop matrix goes to storage), prices every seller under
    /// its final load and records it.
    function _priceSellers(uint256 gameId, GameData storage g, GameBook memory book)
        private
        returns (Seller[] memory sellers)
    {
        (IMarket.GameParams memory params, IMarket.GamePrices memory prices,) = _market.game(gameId);
        book.status = Status.FixingTrades;
        book.retail = prices.retail;
        book.feedIn = prices.feedIn;
        book.transmissionFee = prices.transmissionFee;
        book.deliveryEnd = params.deliveryEnd;
        uint16[] memory distances;
        (book.zoneCount, distances) = _market.hopDistances();
        g.hopWords.storeU16s(distances);

        IMarket.Offer[] memory offers = _market.offers(gameId);
        uint256[] memory loads = _market.gameState(gameId).loads;
        sellers = new Seller[](offers.length);
        for (uint256 j; j < offers.length; ++j) {
            sellers[j] = _priceSeller(gameId, g, offers[j], loads[j], prices.retail);
        }
    }

    /// @dev Records a seller's energy price under its final `load` and its zone.
    function _priceSeller(uint256 gameId, GameData storage g, IMarket.Offer memory offer, uint256 load, uint256 retail)
        private
        returns (Seller memory seller)
    {
        uint256 zone = _market.prosumer(offer.seller).zone;
        uint256 price = SettlementMath.energyPrice(offer.price, offer.wh, load, retail);
        seller = Seller({account: offer.seller, price: price, zone: zone});
        Party storage p = g.parties[offer.seller];
        // price <= retail (a uint64); a load is within a uint32 capacity; zone is a uint16.
        p.energyPrice = SafeCast.toUint64(price);
        p.tradedWh = SafeCast.toUint32(load);
        p.zone = SafeCast.toUint16(zone);
        p.tradesFixed = true;
        emit SellerPriced(gameId, offer.seller, load, price);
    }

    /// @dev The sellers as priced by the first {fixTrades} call.
    function _sellers(uint256 gameId, GameData storage g) private view returns (Seller[] memory sellers) {
        IMarket.Offer[] memory offers = _market.offers(gameId);
        sellers = new Seller[](offers.length);
        for (uint256 j; j < offers.length; ++j) {
            Party storage p = g.parties[offers[j].seller];
            sellers[j] = Seller({account: offers[j].seller, price: p.energyPrice, zone: p.zone});
        }
    }

    /// @dev Fixes one buyer's trades: its cost and import reserve stay locked; returns the refund
    /// (the caller releases and transfers it).
    function _fixBuyer(
        uint256 gameId,
        GameData storage g,
        GameBook memory book,
        Seller[] memory sellers,
        IMarket.Demand memory demand
    ) private returns (uint256 refund) {
        address buyer = demand.buyer;
        Party storage p = g.parties[buyer];
        uint256 zone = _market.prosumer(buyer).zone;
        (uint256 costMilli, uint256 bought) = _emitTrades(gameId, g, book, sellers, buyer, zone);
        uint256 cost = SettlementMath.ceilDiv(costMilli, SettlementMath.WH_PER_KWH);
        // The buyer's bid is within its demand, so demand.wh - bought cannot underflow.
        uint256 locked = cost + SettlementMath.charge(demand.wh - bought, book.retail);
        uint256 escrowed = p.escrowed;
        // cost <= escrowed always (unit prices are capped at g + t x maxHop); the reserve may be cut.
        if (locked > escrowed) locked = escrowed;
        refund = escrowed - locked;

        // locked <= escrowed (a uint128); bought <= demand (a uint32); zone is a uint16.
        p.locked = SafeCast.toUint128(locked);
        p.tradedWh = SafeCast.toUint32(bought);
        p.zone = SafeCast.toUint16(zone);
        p.tradesFixed = true;
        emit BuyerTradesFixed(gameId, buyer, bought, cost, locked, refund);
    }

    /// @dev Emits one {TradeFixed} per positive entry of `buyer`'s final bid; returns the trades'
    /// cost in thousandths of a base unit and the energy bought.
    function _emitTrades(
        uint256 gameId,
        GameData storage g,
        GameBook memory book,
        Seller[] memory sellers,
        address buyer,
        uint256 zone
    ) private returns (uint256 costMilli, uint256 bought) {
        uint256[] memory bids = _market.bidOf(gameId, buyer);
        uint256 maxHop = g.parties[buyer].maxHop;
        for (uint256 j; j < bids.length; ++j) {
            if (bids[j] == 0) continue;
            uint256 hops = _hops(g, book.zoneCount, zone, sellers[j].zone, maxHop);
            costMilli += _emitTrade(gameId, buyer, sellers[j], bids[j], hops, book.transmissionFee);
            bought += bids[j];
        }
    }

    /// @dev Emits the trade of `wh` Wh from `seller` to `buyer` over `hops` hops; returns its cost
    /// in thousandths of a base unit.
    function _emitTrade(
        uint256 gameId,
        address buyer,
        Seller memory seller,
        uint256 wh,
        uint256 hops,
        uint256 feePerHop
    ) private returns (uint256 costMilli) {
        uint256 unitPrice = seller.price + feePerHop * hops;
        emit TradeFixed(gameId, buyer, seller.account, wh, seller.price, hops, unitPrice);
        return wh * unitPrice;
    }

    // =============================================================== metering

    /// @inheritdoc ISettlement
    function postReading(uint256 gameId, address account, uint256 producedWh, uint256 consumedWh) external {
        _checkRole(_METER_ROLE);
        GameData storage g = _game(gameId);
        Status status = g.book.status;
        if (status < Status.TradesFixed) revert SettlementTradesNotFixed(gameId, status);
        if (status > Status.TradesFixed) revert SettlementGameClosing(gameId, status);
        (IMarket.Role role, uint256 index) = _market.participant(gameId, account);
        if (role == IMarket.Role.None) revert SettlementNotParticipant(gameId, account);
        Party storage p = g.parties[account];
        if (p.read) revert SettlementAlreadyRead(gameId, account);
        if (producedWh > MAX_READING_WH) revert SettlementReadingTooLarge(producedWh, MAX_READING_WH);
        if (consumedWh > MAX_READING_WH) revert SettlementReadingTooLarge(consumedWh, MAX_READING_WH);

        p.producedWh = SafeCast.toUint32(producedWh);
        p.consumedWh = SafeCast.toUint32(consumedWh);
        p.read = true;
        // Cannot overflow: one reading per participant, at most MAX_SELLERS + MAX_BUYERS < 2^16.
        ++g.book.readings;
        emit ReadingPosted(gameId, account, producedWh, consumedWh);

        if (p.tradedWh == 0) return;
        if (role == IMarket.Role.Seller) _deliverAsSeller(gameId, g, account, index);
        else _deliverAsBuyer(gameId, g, account);
    }

    /// @dev A buyer's reading completes its trades with every seller already read: one transfer
    /// per seller paid.
    function _deliverAsBuyer(uint256 gameId, GameData storage g, address buyer) private {
        Party storage bp = g.parties[buyer];
        uint256[] memory bids = _market.bidOf(gameId, buyer);
        IMarket.Offer[] memory offers = _market.offers(gameId);
        uint256[] memory amounts = new uint256[](bids.length);
        for (uint256 j; j < bids.length; ++j) {
            if (bids[j] == 0) continue;
            Party storage sp = g.parties[offers[j].seller];
            if (!sp.read) continue;
            amounts[j] = _deliver(gameId, g, buyer, bp, offers[j].seller, sp, bids[j]);
        }
        for (uint256 j; j < amounts.length; ++j) {
            if (amounts[j] != 0) _update(g.book, buyer, 0, address(this), offers[j].seller, amounts[j]);
        }
    }

    /// @dev A seller's reading (seller number `index`) completes its trades with every buyer
    /// already read: one transfer to the seller.
    function _deliverAsSeller(uint256 gameId, GameData storage g, address seller, uint256 index) private {
        Party storage sp = g.parties[seller];
        IMarket.Demand[] memory demands = _market.demands(gameId);
        uint256 total;
        for (uint256 i; i < demands.length; ++i) {
            address buyer = demands[i].buyer;
            Party storage bp = g.parties[buyer];
            if (!bp.read || bp.tradedWh == 0) continue;
            uint256 wh = _market.bidOf(gameId, buyer)[index];
            if (wh == 0) continue;
            total += _deliver(gameId, g, buyer, bp, seller, sp, wh);
        }
        if (total != 0) _update(g.book, seller, 0, address(this), seller, total);
    }

    /// @dev Pays the delivered part of the trade `buyer`-`seller` of `tradeWh` Wh (both read) out
    /// of the buyer's escrow; returns the seller's amount (the caller transfers it).
    function _deliver(
        uint256 gameId,
        GameData storage g,
        address buyer,
        Party storage bp,
        address seller,
        Party storage sp,
        uint256 tradeWh
    ) private returns (uint256 amount) {
        uint256 wh = SettlementMath.delivered(tradeWh, sp.tradedWh, sp.producedWh, bp.tradedWh, bp.consumedWh);
        if (wh == 0) return 0;
        uint256 chargedMilli;
        uint256 spent;
        (amount, chargedMilli, spent) = _recordDelivery(g, bp, sp, wh);
        _update(g.book, buyer, spent, address(this), seller, 0); // spent now; the tokens move with the seller's payment
        emit TradeDelivered(gameId, buyer, seller, wh, amount, chargedMilli);
    }

    /// @dev Books `wh` delivered Wh of a trade: the seller's amount is rounded down, the buyer's
    /// charge kept exact in thousandths; returns the seller's amount, the charge, and how much more
    /// of the buyer's escrow is now spent (its spent escrow is its total charge rounded up).
    function _recordDelivery(GameData storage g, Party storage bp, Party storage sp, uint256 wh)
        private
        returns (uint256 amount, uint256 chargedMilli, uint256 spent)
    {
        GameBook storage book = g.book;
        uint256 transmissionMilli = wh * book.transmissionFee * _hops(g, book.zoneCount, bp.zone, sp.zone, bp.maxHop);
        uint256 energyPrice = sp.energyPrice;
        chargedMilli = wh * energyPrice + transmissionMilli;
        amount = SettlementMath.credit(wh, energyPrice);
        uint256 before = bp.chargedMilli;
        bp.chargedMilli = before + chargedMilli;
        spent = SettlementMath.ceilDiv(before + chargedMilli, SettlementMath.WH_PER_KWH)
            - SettlementMath.ceilDiv(before, SettlementMath.WH_PER_KWH);
        // Delivered energy never exceeds the traded energy (a uint32), summed per side; a trade's
        // transmission is below 2^113 and all of them are bounded by the escrow (a uint128).
        bp.deliveredWh = SafeCast.toUint32(bp.deliveredWh + wh);
        sp.deliveredWh = SafeCast.toUint32(sp.deliveredWh + wh);
        book.transmissionMilli = SafeCast.toUint128(book.transmissionMilli + transmissionMilli);
    }

    // =============================================================== close

    /// @inheritdoc ISettlement
    function closeGame(uint256 gameId, uint256 maxItems) external returns (bool done) {
        _checkRole(_CLOCK_ROLE);
        if (maxItems == 0) revert SettlementZeroChunk();
        GameData storage g = _game(gameId);
        GameBook storage book = g.book;
        Status status = book.status;
        if (status == Status.Closed) revert SettlementGameClosed(gameId);
        if (status < Status.TradesFixed) revert SettlementTradesNotFixed(gameId, status);
        if (block.timestamp < book.deliveryEnd) {
            revert SettlementDeliveryNotEnded(gameId, book.deliveryEnd, block.timestamp);
        }

        IMarket.Demand[] memory demands = _market.demands(gameId);
        IMarket.Offer[] memory offers = _market.offers(gameId);
        // Items: every buyer, then the operator's income, then every seller.
        uint256 buyers = demands.length;
        uint256 items = buyers + 1 + offers.length;
        uint256 start = book.cursor;
        uint256 end = start + maxItems;
        if (end > items) end = items;
        done = end == items;
        // items <= 2 x 1024 + 1 < 2^16.
        book.cursor = SafeCast.toUint16(end);
        book.status = done ? Status.Closed : Status.Closing;
        if (status == Status.TradesFixed) emit ClosingStarted(gameId);

        for (uint256 k = start; k < end; ++k) {
            if (k < buyers) _closeBuyer(gameId, g, demands[k].buyer);
            else if (k == buyers) _payIncome(gameId, book);
            else _closeSeller(gameId, g, offers[k - buyers - 1].seller);
        }
        if (done) emit GameClosed(gameId);
    }

    /// @dev Releases a buyer's escrow: its delivered trades are spent, its grid import is paid from
    /// the rest first, and what remains is refunded; the grid balance left is settled wallet to wallet.
    function _closeBuyer(uint256 gameId, GameData storage g, address buyer) private {
        Party storage p = g.parties[buyer];
        GameBook storage book = g.book;
        p.settled = true;
        (uint256 importCharge, uint256 exportCredit) = _gridPosition(gameId, book, buyer, p, true);
        uint256 spent = SettlementMath.ceilDiv(p.chargedMilli, SettlementMath.WH_PER_KWH);
        uint256 available = p.locked - spent;
        uint256 toGrid = importCharge < available ? importCharge : available;
        // toGrid is part of the buyer's escrow (< 2^113).
        book.importsFromEscrow = SafeCast.toUint128(book.importsFromEscrow + toGrid);
        emit EscrowReleased(gameId, buyer, spent, toGrid, available - toGrid);

        _update(book, buyer, available, address(this), buyer, available - toGrid);
        _settleGrid(gameId, book, buyer, importCharge - toGrid, exportCredit);
        if (p.read) _market.recordMetering(buyer, p.producedWh, p.consumedWh);
    }

    /// @dev Pays the operator everything the game still holds once every buyer is released:
    /// transmission fees, imports paid from escrow, and the rounding dust.
    function _payIncome(uint256 gameId, GameBook storage book) private {
        uint256 income = book.held;
        uint256 transmission = book.transmissionMilli / SettlementMath.WH_PER_KWH;
        uint256 imports = book.importsFromEscrow;
        // income >= transmission + imports: every buyer spent at least the exact cost of its
        // delivered trades (rounded up) and every seller got at most its exact share (rounded down).
        uint256 dust = income - transmission - imports;
        emit GameIncomePaid(gameId, _operator, transmission, imports, dust);
        _update(book, _operator, 0, address(this), _operator, income);
    }

    /// @dev Settles a seller's grid position (it holds no escrow).
    function _closeSeller(uint256 gameId, GameData storage g, address seller) private {
        Party storage p = g.parties[seller];
        p.settled = true;
        (uint256 importCharge, uint256 exportCredit) = _gridPosition(gameId, g.book, seller, p, false);
        if (!p.read) return;
        _settleGrid(gameId, g.book, seller, importCharge, exportCredit);
        _market.recordMetering(seller, p.producedWh, p.consumedWh);
    }

    /// @dev Announces a participant's grid position ({GridSettled}; {ReadingMissing} without a
    /// reading, then no position) and returns its import charge and export credit. A buyer's
    /// delivered energy never exceeds its consumption, nor a seller's its production (pro rata
    /// shares round down); a buyer delivers nothing, so its production is all export.
    function _gridPosition(uint256 gameId, GameBook storage book, address account, Party storage p, bool isBuyer)
        private
        returns (uint256 importCharge, uint256 exportCredit)
    {
        if (!p.read) {
            emit ReadingMissing(gameId, account);
            return (0, 0);
        }
        uint256 importWh = isBuyer ? p.consumedWh - p.deliveredWh : p.consumedWh;
        uint256 exportWh = isBuyer ? p.producedWh : p.producedWh - p.deliveredWh;
        importCharge = SettlementMath.charge(importWh, book.retail);
        exportCredit = SettlementMath.credit(exportWh, book.feedIn);
        emit GridSettled(gameId, account, importWh, importCharge, exportWh, exportCredit);
    }

    // =============================================================== views

    /// @inheritdoc ISettlement
    function escrowFor(uint256 gameId, address buyer, uint256 wh) public view returns (uint256 amount, uint256 maxHop) {
        (, IMarket.GamePrices memory prices,) = _market.game(gameId);
        uint256 zone = _market.prosumer(buyer).zone;
        (uint16 zoneCount, uint16[] memory distances) = _market.hopDistances();
        for (uint256 k = zone * zoneCount; k < (zone + 1) * zoneCount; ++k) {
            if (distances[k] > maxHop) maxHop = distances[k];
        }
        amount = SettlementMath.escrow(wh, prices.retail, prices.transmissionFee, maxHop);
    }
}
