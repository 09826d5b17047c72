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
        // wh <= the Market's MAX_AMOUNT_WH (a uint32); buyers <= MAX_BUYERS < 2^16.
        p.demandWh = SafeCast.toUint32(wh);
        uint256 index = g.book.buyerCount;
        g.buyerAt[index] = buyer;
        g.book.buyerCount = SafeCast.toUint16(index + 1);
        emit EscrowLocked(gameId, buyer, wh, maxHop, amount);
        _update(g.book, buyer, 0, buyer, address(this), amount);
    }

    // =============================================================== fixing trades

    /// @inheritdoc ISettlement
    function fixTrades(uint256 gameId, uint256 maxItems) external returns (bool done) {
        if (maxItems == 0) revert SettlementZeroChunk();
        GameData storage g = _game(gameId);
        GameBook memory book = g.book;
        if (book.status >= Status.TradesFixed) revert SettlementTradesAlreadyFixed(gameId);
        IMarket.Phase phase = _market.phase(gameId);
        if (phase != IMarket.Phase.Ended) revert SettlementBiddingNotEnded(gameId, phase);
        if (book.status == Status.Open) _snapshot(gameId, g, book);

        // Items: every seller (priced), then every buyer (its trades fixed), a buyer counting as
        // one item per 128 sellers.
        uint256 sellers = book.sellerCount;
        uint256 parts = SettlementMath.itemsPerBuyer(sellers);
        uint256 items = sellers + book.buyerCount * parts;
        uint256 start = book.cursor;
        uint256 end = start + maxItems;
        if (end > items) end = items;
        if (start < sellers) _priceSellers(gameId, g, start, end < sellers ? end : sellers, book.retail);
        (address[] memory buyers, uint256[] memory refunds) =
            _fixBuyers(gameId, g, book, start > sellers ? start - sellers : 0, end > sellers ? end - sellers : 0, parts);
        done = end == items;
        // end <= MAX_SELLERS + MAX_BUYERS x 8 < 2^16; block times fit in 64 bits.
        book.cursor = done ? 0 : SafeCast.toUint16(end);
        if (done) {
            book.status = Status.TradesFixed;
            book.fixedAt = SafeCast.toUint64(block.timestamp);
        }
        g.book = book;
        if (done) emit TradesFixed(gameId, book.buyerCount, sellers);

        for (uint256 k; k < buyers.length; ++k) {
            if (refunds[k] != 0) _update(g.book, buyers[k], refunds[k], address(this), buyers[k], refunds[k]);
        }
    }

    /// @dev Buyer items `from` to `to` (exclusive) of {fixTrades}; returns the buyers handled and
    /// their refunds (the caller releases and transfers them).
    function _fixBuyers(
        uint256 gameId,
        GameData storage g,
        GameBook memory book,
        uint256 from,
        uint256 to,
        uint256 parts
    ) private returns (address[] memory buyers, uint256[] memory refunds) {
        buyers = new address[](to > from ? to - from : 0);
        refunds = new uint256[](buyers.length);
        for (uint256 k; k < buyers.length; ++k) {
            buyers[k] = g.buyerAt[(from + k) / parts];
            refunds[k] = _fixBuyer(gameId, g, book, buyers[k], (from + k) % parts, parts);
        }
    }

    /// @dev First call of {fixTrades}: snapshots prices, delivery end, the number of sellers and the
    /// hop matrix into `book` (memory; the caller stores it; the hop matrix goes to storage).
    function _snapshot(uint256 gameId, GameData storage g, GameBook memory book) private {
        (IMarket.GameParams memory params, IMarket.GamePrices memory prices, IMarket.GameStatus memory status) =
            _market.game(gameId);
        book.status = Status.FixingTrades;
        book.retail = prices.retail;
        book.feedIn = prices.feedIn;
        book.transmissionFee = prices.transmissionFee;
        book.deliveryEnd = params.deliveryEnd;
        book.sellerCount = status.sellerCount;
        uint16[] memory distances;
        (book.zoneCount, distances) = _market.hopDistances();
        g.hopWords.storeU16s(distances);
    }

    /// @dev Prices sellers `from` to `to` (exclusive) under their final loads and records each
    /// one's price, load, zone and index.
    function _priceSellers(uint256 gameId, GameData storage g, uint256 from, uint256 to, uint256 retail) private {
        IMarket.Offer[] memory offers = _market.offers(gameId);
        uint256[] memory loads = _market.gameState(gameId).loads;
        for (uint256 j = from; j < to; ++j) {
            address seller = offers[j].seller;
            uint256 zone = _market.prosumer(seller).zone;
            uint256 price = SettlementMath.energyPrice(offers[j].price, offers[j].wh, loads[j], retail);
            g.sellerAt[j] = seller;
            Party storage p = g.parties[seller];
            // price <= retail (a uint64); a load is within a uint32 capacity; zone is a uint16.
            p.energyPrice = SafeCast.toUint64(price);
            p.tradedWh = SafeCast.toUint32(loads[j]);
            p.zone = SafeCast.toUint16(zone);
            p.tradesFixed = true;
            emit SellerPriced(gameId, seller, loads[j], price);
        }
    }

    /// @dev Part `part` of `parts` of fixing a buyer's trades (one {TradeFixed} each, sellers
    /// `part` x 128 onwards). The last part locks the worst bill of any delivery for
    /// a consumption up to its demand D: every Wh at retail g, plus what a trade costs above g,
    /// ceil((D g + sum_j x_j max(u_j - g, 0)) / 1000), within its escrow; returns the refund (the
    /// caller releases and transfers it; 0 before the last part).
    function _fixBuyer(
        uint256 gameId,
        GameData storage g,
        GameBook memory book,
        address buyer,
        uint256 part,
        uint256 parts
    ) private returns (uint256 refund) {
        Party storage p = g.parties[buyer];
        // zone is a uint16.
        if (part == 0) p.zone = SafeCast.toUint16(_market.prosumer(buyer).zone);
        (uint256 costMilli, uint256 aboveRetailMilli, uint256 bought) = _emitTrades(gameId, g, book, buyer, part);
        // bought <= the buyer's bid <= its demand (a uint32).
        p.tradedWh = SafeCast.toUint32(p.tradedWh + bought);
        if (part + 1 < parts) {
            g.pendingCostMilli += costMilli;
            g.pendingAboveRetailMilli += aboveRetailMilli;
            return 0;
        }
        costMilli += g.pendingCostMilli;
        aboveRetailMilli += g.pendingAboveRetailMilli;
        (g.pendingCostMilli, g.pendingAboveRetailMilli) = (0, 0);

        uint256 cost = SettlementMath.ceilDiv(costMilli, SettlementMath.WH_PER_KWH);
        uint256 locked =
            SettlementMath.ceilDiv(p.demandWh * uint256(book.retail) + aboveRetailMilli, SettlementMath.WH_PER_KWH);
        uint256 escrowed = p.escrowed;
        // locked >= cost (x u <= x g + x max(u - g, 0) and bought <= demand); the escrow, the
        // worst case with every Wh at g + t x maxHop, is never below it but for its rounding.
        if (locked > escrowed) locked = escrowed;
        refund = escrowed - locked;
        // locked <= escrowed (a uint128).
        p.locked = SafeCast.toUint128(locked);
        p.tradesFixed = true;
        emit BuyerTradesFixed(gameId, buyer, p.tradedWh, cost, locked, refund);
    }

    /// @dev Emits one {TradeFixed} per positive entry of `buyer`'s final bid among the sellers of
    /// item `part`; returns their cost and the part of it above the retail price, in thousandths
    /// of a base unit, and their energy.
    function _emitTrades(uint256 gameId, GameData storage g, GameBook memory book, address buyer, uint256 part)
        private
        returns (uint256 costMilli, uint256 aboveRetailMilli, uint256 bought)
    {
        Buyer memory b = _buyer(gameId, g, buyer, book.zoneCount, book.transmissionFee);
        uint256[] memory bids = _market.bidOf(gameId, buyer);
        uint256 retail = book.retail;
        (uint256 from, uint256 to) = SettlementMath.columns(part, bids.length);
        for (uint256 j = from; j < to; ++j) {
            if (bids[j] == 0) continue;
            uint256 unitPrice = _emitTrade(g, b, j, bids[j]);
            costMilli += bids[j] * unitPrice;
            if (unitPrice > retail) aboveRetailMilli += bids[j] * (unitPrice - retail);
            bought += bids[j];
        }
    }

    /// @dev Emits the trade of `wh` Wh from seller number `j` to `b`; returns its unit price.
    function _emitTrade(GameData storage g, Buyer memory b, uint256 j, uint256 wh) private returns (uint256 unitPrice) {
        address seller = g.sellerAt[j];
        Party storage sp = g.parties[seller];
        uint256 energyPrice = sp.energyPrice;
        uint256 hops = _hops(g, b.zoneCount, b.zone, sp.zone, b.maxHop);
        unitPrice = energyPrice + b.feePerHop * hops;
        emit TradeFixed(b.gameId, b.account, seller, wh, energyPrice, hops, unitPrice);
    }

    // =============================================================== metering

    /// @inheritdoc ISettlement
    function postReading(uint256 gameId, address account, uint256 producedWh, uint256 consumedWh) external {
        _checkRole(_METER_ROLE);
        GameData storage g = _game(gameId);
        Status status = g.book.status;
        if (status < Status.TradesFixed) revert SettlementTradesNotFixed(gameId, status);
        if (status > Status.TradesFixed) revert SettlementGameClosing(gameId, status);
        (IMarket.Role role,) = _market.participant(gameId, account);
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

        // Items: every buyer (one item per 128 sellers), then the operator's income,
        // then every seller.
        uint256 parts = SettlementMath.itemsPerBuyer(book.sellerCount);
        uint256 buyers = book.buyerCount * parts;
        uint256 items = buyers + 1 + book.sellerCount;
        uint256 start = book.cursor;
        uint256 end = start + maxItems;
        if (end > items) end = items;
        done = end == items;
        // items <= MAX_BUYERS x 8 + 1 + MAX_SELLERS < 2^16.
        book.cursor = SafeCast.toUint16(end);
        book.status = done ? Status.Closed : Status.Closing;
        if (status == Status.TradesFixed) emit ClosingStarted(gameId);

        uint256 k = start;
        if (k < buyers) {
            uint256[] memory delivered = new uint256[](book.sellerCount); // Wh by seller, this chunk
            for (; k < end && k < buyers; ++k) {
                address buyer = g.buyerAt[k / parts];
                Party storage p = g.parties[buyer];
                if (p.read && p.tradedWh != 0) _deliverTrades(gameId, g, buyer, k % parts, delivered);
                if (k % parts == parts - 1) _closeBuyer(gameId, g, buyer);
            }
            _bookSellerDeliveries(g, delivered);
        }
        for (; k < end; ++k) {
            if (k == buyers) _payIncome(gameId, book);
            else _closeSeller(gameId, g, g.sellerAt[k - buyers - 1]);
        }
        if (done) emit GameClosed(gameId);
    }

    /// @dev Settles a buyer whose delivered trades are booked: one bill rounded once (trades plus
    /// grid import), paid from its escrow as far as it goes; the rest of the escrow is refunded and
    /// the grid balance left is settled wallet to wallet.
    function _closeBuyer(uint256 gameId, GameData storage g, address buyer) private {
        Party storage p = g.parties[buyer];
        GameBook storage book = g.book;
        p.settled = true;
        uint256 locked = p.locked;
        if (!p.read) {
            emit ReadingMissing(gameId, buyer);
            emit EscrowReleased(gameId, buyer, 0, 0, locked);
            _update(book, buyer, locked, address(this), buyer, locked);
            return;
        }
        (uint256 spent, uint256 importCharge, uint256 exportCredit) = _buyerBill(gameId, g, buyer, p);
        // spent <= locked: the delivered trades cost at most the trades' cost, which is locked.
        uint256 available = locked - spent;
        uint256 toGrid = importCharge < available ? importCharge : available;
        // toGrid is part of the buyer's escrow (< 2^113).
        book.importsFromEscrow = SafeCast.toUint128(book.importsFromEscrow + toGrid);
        emit EscrowReleased(gameId, buyer, spent, toGrid, available - toGrid);

        _update(book, buyer, locked, address(this), buyer, available - toGrid);
        _settleGrid(gameId, book, buyer, importCharge - toGrid, exportCredit);
        _market.recordMetering(buyer, p.producedWh, p.consumedWh);
    }

    /// @dev A read buyer's bill: its delivered trades (`spent`, their charge rounded up) and its
    /// grid import, rounded once with them (`importCharge`); and its export credit.
    function _buyerBill(uint256 gameId, GameData storage g, address buyer, Party storage p)
        private
        returns (uint256 spent, uint256 importCharge, uint256 exportCredit)
    {
        uint256 chargedMilli = p.chargedMilli;
        uint256 importWh = p.consumedWh - p.deliveredWh;
        spent = SettlementMath.ceilDiv(chargedMilli, SettlementMath.WH_PER_KWH);
        importCharge =
            SettlementMath.ceilDiv(chargedMilli + importWh * g.book.retail, SettlementMath.WH_PER_KWH) - spent;
        exportCredit = SettlementMath.credit(p.producedWh, g.book.feedIn);
        emit GridSettled(gameId, buyer, importWh, importCharge, p.producedWh, exportCredit);
    }

    /// @dev Finds the delivered part of each of a read buyer's trades with the sellers of item
    /// `part` (both readings cover it, {SettlementMath.delivered}) and books it: the buyer's charge
    /// and delivered energy, the game's transmission, and the seller's delivered energy in
    /// `delivered` (booked per chunk).
    function _deliverTrades(uint256 gameId, GameData storage g, address buyer, uint256 part, uint256[] memory delivered)
        private
    {
        Buyer memory b = _buyer(gameId, g, buyer, g.book.zoneCount, g.book.transmissionFee);
        uint256[] memory bids = _market.bidOf(gameId, buyer);
        (uint256 from, uint256 to) = SettlementMath.columns(part, bids.length);
        uint256[3] memory sums; // charged and transmission (milli), delivered Wh
        for (uint256 j = from; j < to; ++j) {
            if (bids[j] != 0) _deliverTrade(g, b, j, bids[j], sums, delivered);
        }
        Party storage bp = g.parties[buyer];
        // Delivered energy never exceeds the traded energy (a uint32); charges are bounded by the
        // escrow (a uint128).
        bp.chargedMilli = SafeCast.toUint192(bp.chargedMilli + sums[0]);
        bp.deliveredWh = SafeCast.toUint32(bp.deliveredWh + sums[2]);
        g.book.transmissionMilli = SafeCast.toUint128(g.book.transmissionMilli + sums[1]);
    }

    /// @dev Books the delivered part of the trade of `tradeWh` Wh from seller number `j` to `b`
    /// ({TradeDelivered} if any) into `sums` (charge, transmission, energy) and `delivered`.
    function _deliverTrade(
        GameData storage g,
        Buyer memory b,
        uint256 j,
        uint256 tradeWh,
        uint256[3] memory sums,
        uint256[] memory delivered
    ) private {
        address seller = g.sellerAt[j];
        Party storage sp = g.parties[seller];
        if (!sp.read) return;
        uint256 wh = SettlementMath.delivered(tradeWh, sp.tradedWh, sp.producedWh, b.tradedWh, b.consumedWh);
        if (wh == 0) return;
        uint256 price = sp.energyPrice;
        uint256 transmissionMilli = wh * b.feePerHop * _hops(g, b.zoneCount, b.zone, sp.zone, b.maxHop);
        uint256 chargedMilli = wh * price + transmissionMilli;
        emit TradeDelivered(b.gameId, b.account, seller, wh, SettlementMath.credit(wh, price), chargedMilli);
        sums[0] += chargedMilli;
        sums[1] += transmissionMilli;
        sums[2] += wh;
        delivered[j] += wh;
    }

    /// @dev Adds one chunk's delivered energy to each seller's record and what it is owed to the
    /// game's `sellersDue`.
    function _bookSellerDeliveries(GameData storage g, uint256[] memory delivered) private {
        GameBook storage book = g.book;
        uint256 due = book.sellersDue;
        for (uint256 j; j < delivered.length; ++j) {
            if (delivered[j] == 0) continue;
            Party storage sp = g.parties[g.sellerAt[j]];
            uint256 before = sp.deliveredWh;
            // A seller's delivered energy is within its production (a uint32).
            sp.deliveredWh = SafeCast.toUint32(before + delivered[j]);
            due += SettlementMath.credit(before + delivered[j], sp.energyPrice)
            - SettlementMath.credit(before, sp.energyPrice);
        }
        // due <= what the buyers were charged, within their escrow (a uint128).
        book.sellersDue = SafeCast.toUint128(due);
    }

    /// @dev Pays the operator everything the game holds once every buyer is settled but what the
    /// sellers are owed: transmission fees, imports paid from escrow, and the rounding dust.
    function _payIncome(uint256 gameId, GameBook storage book) private {
        uint256 income = book.held - book.sellersDue;
        uint256 transmission = book.transmissionMilli / SettlementMath.WH_PER_KWH;
        uint256 imports = book.importsFromEscrow;
        // income >= transmission + imports: every buyer spent at least the exact cost of its
        // delivered trades (rounded up) and the sellers are owed at most their exact share (down).
        uint256 dust = income - transmission - imports;
        emit GameIncomePaid(gameId, _operator, transmission, imports, dust);
        _update(book, _operator, 0, address(this), _operator, income);
    }

    /// @dev Pays a seller for its delivered energy (one transfer) and settles its grid position.
    function _closeSeller(uint256 gameId, GameData storage g, address seller) private {
        Party storage p = g.parties[seller];
        GameBook storage book = g.book;
        p.settled = true;
        if (!p.read) {
            emit ReadingMissing(gameId, seller);
            return;
        }
        uint256 amount = SettlementMath.credit(p.deliveredWh, p.energyPrice);
        if (amount != 0) {
            emit SellerPaid(gameId, seller, p.deliveredWh, amount);
            _update(book, seller, 0, address(this), seller, amount);
        }
        uint256 exportWh = p.producedWh - p.deliveredWh;
        uint256 importCharge = SettlementMath.charge(p.consumedWh, book.retail);
        uint256 exportCredit = SettlementMath.credit(exportWh, book.feedIn);
        emit GridSettled(gameId, seller, p.consumedWh, importCharge, exportWh, exportCredit);
        _settleGrid(gameId, book, seller, importCharge, exportCredit);
        _market.recordMetering(seller, p.producedWh, p.consumedWh);
    }
}
